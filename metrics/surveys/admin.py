"""Read-mostly admin pages for superusers; managers use /manage/surveys/ and the ticket pages."""

from django.contrib import admin

from metrics.surveys.models import NpsCampaign, SurveyInvitation, SurveyResponse


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ("kind", "score", "customer", "ticket", "source", "answered_at")
    list_filter = ("kind", "source")
    raw_id_fields = ("ticket", "customer")
    readonly_fields = ("kind", "score", "comment", "source", "answered_at", "ticket", "customer", "created_at", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False  # answers come from customers, through survey_response_record


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = ("kind", "customer", "ticket", "via", "sent_at", "expires_at", "answered_at")
    list_filter = ("kind", "via")
    raw_id_fields = ("ticket", "customer", "campaign", "solve_event", "message", "response")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(NpsCampaign)
class NpsCampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "audience", "status", "sent_count", "recipients_total", "created_at")
    list_filter = ("status",)

    def has_add_permission(self, request) -> bool:
        return False  # created and sent from /manage/surveys/

    def has_change_permission(self, request, obj=None) -> bool:
        return False

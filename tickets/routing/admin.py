"""Admin pages for routing: rules (ordered, validated, with a dry run), SLA policies with
their targets, business-hours calendars with holidays, and team assignment settings."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from tickets.routing import selectors
from tickets.routing.models import BusinessHours, Holiday, Rule, SLAPolicy, SLATarget, TeamRouting, TicketRouting
from tickets.routing.rules import RuleDefinitionError

DRY_RUN_LIMIT = 100


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "is_active", "triggers", "match", "stop_processing", "updated_at", "dry_run_link"]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "on_created", "on_message", "on_updated", "on_schedule"]
    search_fields = ["name", "description"]
    actions = ["dry_run_action", "activate", "deactivate"]
    fieldsets = [
        (None, {"fields": ["name", "description", "is_active", "position", "stop_processing"]}),
        ("When", {"fields": ["on_created", "on_message", "on_updated", "on_schedule"]}),
        ("If", {"fields": ["match", "conditions"], "description": "See docs/routing.md for every field and operator."}),
        ("Then", {"fields": ["actions"]}),
    ]

    @admin.display(description="triggers")
    def triggers(self, rule: Rule) -> str:
        names = [("created", rule.on_created), ("message", rule.on_message), ("updated", rule.on_updated), ("schedule", rule.on_schedule)]
        return ", ".join(n for n, on in names if on)

    @admin.display(description="dry run")
    def dry_run_link(self, rule: Rule) -> str:
        return format_html('<a href="{}">Dry run</a>', reverse("admin:routing_rule_dry_run", args=[rule.pk]))

    def get_urls(self) -> list:
        return [
            path("<int:rule_id>/dry-run/", self.admin_site.admin_view(self.dry_run_view), name="routing_rule_dry_run"),
            *super().get_urls(),
        ]

    def dry_run_view(self, request: HttpRequest, rule_id: int) -> HttpResponse:
        """Which of the last 100 tickets would this rule have matched? Changes nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rule = get_object_or_404(Rule, pk=rule_id)
        try:
            rows = selectors.rule_dry_run(rule=rule, limit=DRY_RUN_LIMIT)
            error = ""
        except RuleDefinitionError as exc:
            rows, error = [], str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Dry run: {rule.name}",
            "rule": rule,
            "rows": rows,
            "matched": [r for r in rows if r.matched],
            "limit": DRY_RUN_LIMIT,
            "error": error,
        }
        return TemplateResponse(request, "admin/routing/rule/dry_run.html", context)

    @admin.action(description="Dry run the selected rule on the last 100 tickets")
    def dry_run_action(self, request: HttpRequest, queryset: QuerySet[Rule]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one rule for a dry run.", level=messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:routing_rule_dry_run", args=[queryset.get().pk]))

    @admin.action(description="Activate the selected rules")
    def activate(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:  # save() keeps updated_at, which tells workers to reload
            rule.is_active = True
            rule.save(update_fields=["is_active", "updated_at"])

    @admin.action(description="Deactivate the selected rules")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:
            rule.is_active = False
            rule.save(update_fields=["is_active", "updated_at"])


class SLATargetInline(admin.TabularInline):
    model = SLATarget
    extra = 1


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "business_hours", "pause_when_pending", "warn_before_minutes", "breach_notify", "breach_raise_priority", "breach_reassign"]
    inlines = [SLATargetInline]


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "updated_at"]
    inlines = [HolidayInline]


@admin.register(TeamRouting)
class TeamRoutingAdmin(admin.ModelAdmin):
    list_display = ["team", "strategy", "business_hours", "sla_policy", "vip_group", "hand_back_when_unavailable"]
    list_filter = ["strategy"]
    readonly_fields = ["last_assigned_user_id"]


@admin.register(TicketRouting)
class TicketRoutingAdmin(admin.ModelAdmin):
    """Inspection only: the state is kept by the services."""

    list_display = ["ticket", "sla_policy", "first_response_due_at", "next_response_due_at", "resolution_due_at", "paused_at"]
    readonly_fields = [f.name for f in TicketRouting._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

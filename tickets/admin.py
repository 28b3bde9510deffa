"""Admin pages for the tickets domain: configuration and inspection, not the agents' workspace."""

from django.contrib import admin

from tickets.models import (
    AgentProfile,
    Attachment,
    CompanyProfile,
    Customer,
    CustomerIdentity,
    Macro,
    Message,
    Organization,
    OrganizationDomain,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)


class OrganizationDomainInline(admin.TabularInline):
    model = OrganizationDomain
    extra = 1


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name", "domains__domain"]
    inlines = [OrganizationDomainInline]


class CustomerIdentityInline(admin.TabularInline):
    model = CustomerIdentity
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "tier", "last_seen_at"]
    list_filter = ["tier"]
    search_fields = ["name", "identities__address"]
    list_select_related = ["organization"]
    raw_id_fields = ["organization", "merged_into"]
    inlines = [CustomerIdentityInline]


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(admin.ModelAdmin):
    list_display = ["kind", "address", "customer", "is_verified"]
    list_filter = ["kind", "is_verified"]
    search_fields = ["address"]
    raw_id_fields = ["customer"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "is_private"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "availability", "capacity"]
    list_filter = ["availability", "teams"]
    filter_horizontal = ["teams"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class MessageInline(admin.StackedInline):
    model = Message
    extra = 0
    fields = ["direction", "author_kind", "text", "delivery_status", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


class ReadOnlyAdmin(admin.ModelAdmin):
    """Tickets and messages change only through the workspace and the API, whose services
    write the TicketEvent every change needs; the admin shows them for inspection.

    Private teams hold here too: staff below manager see only what ``visible_tickets``
    lets them see, and a hidden row's page is a 404, the same as a row that does not exist.
    """

    # How this model reaches its ticket ("ticket" for messages and events; "" for Ticket).
    ticket_field = "ticket"

    def get_queryset(self, request):
        from tickets.roles import ADMIN, MANAGER, user_role
        from tickets.selectors import visible_tickets

        qs = super().get_queryset(request)
        if user_role(request.user) in (ADMIN, MANAGER):
            return qs
        visible = visible_tickets(request.user).values("pk")
        return qs.filter(**{f"{self.ticket_field}__in" if self.ticket_field else "pk__in": visible})

    def _404_unless_visible(self, request, object_id: str) -> None:
        from django.contrib.admin.utils import unquote
        from django.http import Http404

        try:
            found = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValueError, TypeError):
            found = False
        if not found:
            raise Http404

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    ticket_field = ""
    list_display = ["number", "subject", "status", "priority", "channel", "team", "assignee", "updated_at"]
    list_filter = ["status", "priority", "channel__kind", "team"]
    search_fields = ["=number", "subject"]
    list_select_related = ["channel", "team", "assignee"]
    raw_id_fields = ["customer", "organization", "merged_into", "assignee"]
    readonly_fields = ["number", "created_at", "updated_at", "first_response_at", "solved_at", "closed_at"]
    inlines = [MessageInline]


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    readonly_fields = ["filename", "size", "content_type", "sha256", "is_oversize"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "ticket", "direction", "author_kind", "delivery_status", "created_at"]
    list_filter = ["direction", "delivery_status"]
    raw_id_fields = ["ticket", "author_customer", "author_user", "inbound"]
    inlines = [AttachmentInline]


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyAdmin):
    """The audit log is append-only."""

    list_display = ["ticket", "kind", "actor_kind", "created_at"]
    list_filter = ["kind", "actor_kind"]
    raw_id_fields = ["ticket", "actor_user", "actor_customer", "message"]


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "is_note", "set_status", "is_active", "usage_count"]
    list_filter = ["is_active", "is_note"]
    search_fields = ["name", "body"]
    raw_id_fields = ["owner"]


@admin.register(CompanyProfile)
class CompanyProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "support_email", "time_zone"]

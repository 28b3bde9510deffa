"""Every write of the tickets domain goes through these functions.

Each is keyword-only, typed and atomic; each status change writes its TicketEvent in the
same transaction; side effects (realtime events, delivery tasks) leave on commit.

The hot-path services are ``atomic(savepoint=False)``: called alone they are one
transaction; called inside another (the pipeline's per-envelope block) they add no
savepoint of their own and a failure rolls back to the caller's savepoint. Services that
raise domain errors by design (InvalidTransition) keep their savepoint, so a caller may
catch the error and go on. Explicit savepoints remain where a unique-constraint race is
caught and recovered from.
"""

from tickets.services.admin import (
    agent_create,
    agent_send_password_link,
    agent_set_active,
    agent_set_availability,
    agent_update,
    company_profile_update,
    macro_create_shared,
    macro_delete_shared,
    macro_update_shared,
    team_create,
    team_update,
)
from tickets.services.customers import (
    customer_identify,
    customer_identity_add_unverified,
    customer_identity_move,
    customer_merge,
    customer_update,
    normalise_address,
    organization_update,
)
from tickets.services.channel_messages import (
    attachment_store_download,
    customer_identify_linked,
    message_receive_rich,
    message_record_delivery,
    message_record_delivery_upto,
    message_record_deletion,
    message_record_edit,
    message_send_template,
)
from tickets.services.messages import (
    IncomingFile,
    message_add_note,
    message_mark_bounced,
    message_mark_failed,
    message_mark_sent,
    message_receive,
    message_reply,
    message_send_automatic,
)
from tickets.services.merge import message_split, ticket_merge
from tickets.services.macros import (
    macro_apply,
    macro_delete_personal,
    macro_is_available,
    macro_save_personal,
    reply_box_submit,
)
from tickets.services.tickets import (
    ticket_assign,
    ticket_change_status,
    ticket_open,
    ticket_set_priority,
    ticket_set_tags,
    ticket_set_team,
)
from tickets.services.reads import ticket_mark_read
from tickets.services.saved_views import (
    saved_view_create,
    saved_view_delete,
    saved_view_move,
    saved_view_rename,
    saved_view_reorder,
)
from tickets.services.bulk import BulkResult, tickets_bulk_update

__all__ = [
    "BulkResult",
    "saved_view_create",
    "saved_view_delete",
    "saved_view_move",
    "saved_view_rename",
    "saved_view_reorder",
    "ticket_mark_read",
    "tickets_bulk_update",
    "attachment_store_download",
    "customer_identify_linked",
    "message_receive_rich",
    "message_record_delivery",
    "message_record_delivery_upto",
    "message_record_deletion",
    "message_record_edit",
    "message_send_template",
    "agent_create",
    "agent_send_password_link",
    "agent_set_active",
    "agent_set_availability",
    "agent_update",
    "company_profile_update",
    "macro_create_shared",
    "macro_delete_shared",
    "macro_update_shared",
    "team_create",
    "team_update",
    "IncomingFile",
    "customer_identify",
    "customer_identity_add_unverified",
    "customer_identity_move",
    "customer_merge",
    "customer_update",
    "message_add_note",
    "message_mark_bounced",
    "message_mark_failed",
    "message_mark_sent",
    "message_receive",
    "message_reply",
    "message_send_automatic",
    "macro_apply",
    "macro_delete_personal",
    "macro_is_available",
    "macro_save_personal",
    "message_split",
    "reply_box_submit",
    "normalise_address",
    "organization_update",
    "ticket_assign",
    "ticket_change_status",
    "ticket_merge",
    "ticket_open",
    "ticket_set_priority",
    "ticket_set_tags",
    "ticket_set_team",
]

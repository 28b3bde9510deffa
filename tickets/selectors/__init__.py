"""Every read a view, the API or the pipeline needs of the tickets domain.

One module per concern; this package re-exports them so callers write
``selectors.ticket_list_for_agent(...)`` whatever module holds it.
"""

from tickets.selectors.threads import (
    is_ticket_participant,
    message_exists,
    normalise_subject,
    outbound_message_for_external_id,
    recent_inbound_count,
    subject_token_number,
    ticket_for_message_ids,
    ticket_for_number,
    ticket_for_subject,
    ticket_for_thread_key,
)
from tickets.selectors.workspace import (
    Page,
    attachment_for_ticket,
    reply_cc_suggestion,
    ticket_get_for_user,
    ticket_list_for_agent,
    ticket_timeline,
    visible_tickets,
)

__all__ = [
    "Page",
    "attachment_for_ticket",
    "is_ticket_participant",
    "message_exists",
    "normalise_subject",
    "outbound_message_for_external_id",
    "recent_inbound_count",
    "reply_cc_suggestion",
    "subject_token_number",
    "ticket_for_message_ids",
    "ticket_for_number",
    "ticket_for_subject",
    "ticket_for_thread_key",
    "ticket_get_for_user",
    "ticket_list_for_agent",
    "ticket_timeline",
    "visible_tickets",
]

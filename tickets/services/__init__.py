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

from tickets.services.customers import customer_identify, normalise_address
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
from tickets.services.tickets import (
    ticket_assign,
    ticket_change_status,
    ticket_open,
    ticket_set_priority,
    ticket_set_tags,
    ticket_set_team,
)

__all__ = [
    "IncomingFile",
    "customer_identify",
    "message_add_note",
    "message_mark_bounced",
    "message_mark_failed",
    "message_mark_sent",
    "message_receive",
    "message_reply",
    "message_send_automatic",
    "normalise_address",
    "ticket_assign",
    "ticket_change_status",
    "ticket_open",
    "ticket_set_priority",
    "ticket_set_tags",
    "ticket_set_team",
]

"""One visitor frame in, its answer out: shared by the websocket and the HTTPS fallback.

``handle`` is synchronous (it reads and writes the database) and runs in a worker thread;
what other sockets must hear (the message for the visitor's other tabs, typing for the
agents' ticket page, an agent's read receipt) is pushed through the channel layer from
here, so both transports behave the same.
"""

from __future__ import annotations

from typing import Any

from channels_inbox.models import WidgetVisitor
from channels_inbox.widget import selectors, services
from channels_inbox.widget.exceptions import WidgetError
from channels_inbox.widget.realtime import send_frame
from tickets import presence
from tickets.realtime import send_to_groups, ticket_group

FRAME_TYPES = ("message", "typing", "read", "history", "email", "csat")


def typing_event(visitor: WidgetVisitor, state: bool) -> dict[str, Any] | None:
    """The ticket page's event for the visitor's typing (None before there is a ticket)."""
    if not visitor.ticket_id:
        return None
    return {
        "type": "ticket.event",
        "kind": "visitor.typing",
        "ticket_id": visitor.ticket_id,
        "name": visitor.name or "The visitor",
        "state": state,
    }


def handle(
    *, visitor: WidgetVisitor, frame: Any, ip: str = ""
) -> dict[str, Any] | None:
    """Apply one client frame; returns the frame to answer with (None: nothing to say)."""
    if not isinstance(frame, dict) or frame.get("type") not in FRAME_TYPES:
        raise WidgetError(
            "invalid_frame",
            f"A frame is an object whose type is one of {', '.join(FRAME_TYPES)}.",
        )
    kind = frame["type"]
    if kind == "message":
        services.check_rate(visitor=visitor, ip=ip)
        ack, message = services.visitor_message_receive(
            visitor=visitor, client_id=frame.get("client_id"), text=frame.get("text")
        )
        announce_message(visitor, message)
        return ack
    if kind == "typing":
        event = typing_event(visitor, frame.get("state") is True)
        if event is not None:
            send_to_groups(
                (ticket_group(visitor.ticket_id),), event, kind="visitor.typing"
            )
        return None
    if kind == "read":
        services.visitor_mark_read(visitor=visitor, up_to=frame.get("up_to"))
        return None
    if kind == "history":
        after = frame.get("after")
        if after is not None and (
            not isinstance(after, int) or isinstance(after, bool)
        ):
            raise WidgetError("invalid_frame", "after must be a message id.")
        return {
            "type": "history",
            "messages": selectors.history_frames(visitor=visitor, after=after),
        }
    if kind == "email":
        services.visitor_set_email(visitor=visitor, email=frame.get("email"))
        return {
            "type": "status",
            "agents_available": selectors.agents_available(visitor.channel),
        }
    # csat
    services.visitor_rate(
        visitor=visitor, score=frame.get("score"), comment=frame.get("comment") or ""
    )
    return {"type": "solved", "csat": False}


def error_frame(exc: WidgetError, frame: Any) -> dict[str, Any]:
    """The ``error`` frame, naming the message it refuses when the frame had a client_id."""
    answer = exc.frame()
    if (
        "client_id" not in answer
        and isinstance(frame, dict)
        and isinstance(frame.get("client_id"), str)
    ):
        answer["client_id"] = frame["client_id"][:64]
    return answer


def announce_message(visitor: WidgetVisitor, message: Any) -> None:
    """A new visitor message: the visitor's other tabs show it, and if an agent has the
    ticket open, the visitor sees it read."""
    if message is None:
        return
    group = selectors.visitor_group(visitor)
    send_frame(
        group,
        {
            "type": "message",
            "message": selectors.visitor_message_frame(message, visitor=visitor),
        },
    )
    if presence.viewers(ticket_id=message.ticket_id):
        send_frame(group, {"type": "read", "up_to": message.pk})

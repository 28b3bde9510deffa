"""Macros applied from the reply box, and the personal macros agents keep for themselves.

Shared macros (no owner) are written by admins (tickets/services/admin.py); here an agent
writes only their own. Applying a macro is one transaction: the reply or note, each of
the macro's field changes, the MACRO_APPLIED event and the usage count commit together,
or — one of them refused (a closed ticket cannot change status) — none of them do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from tickets import events
from tickets.events import Actor
from tickets.exceptions import MacroNotAllowed
from tickets.models import Macro, Message, Team, Ticket
from tickets.services.admin import _macro_fields
from tickets.services.messages import IncomingFile, message_add_note, message_reply
from tickets.services.tickets import (
    ticket_assign,
    ticket_change_status,
    ticket_set_priority,
    ticket_set_tags,
    ticket_set_team,
)


def macro_is_available(*, macro: Macro, user: Any) -> bool:
    """Shared active macros are offered to everyone; a personal one only to its owner."""
    return macro.is_active and (macro.owner_id is None or macro.owner_id == user.pk)


@transaction.atomic  # raises domain errors: keep a savepoint so a caller's transaction survives
def macro_apply(
    *,
    macro: Macro,
    ticket: Ticket,
    user: Any,
    text: str,
    is_note: bool | None = None,
    to: Sequence[str] | None = None,
    cc: Sequence[str] = (),
    attachments: Sequence[IncomingFile] = (),
    status: str | None = None,
) -> Message | None:
    """Send ``text`` (the macro's body as the agent left it after editing) and perform the
    macro's actions. ``is_note`` and ``status`` chosen in the reply box win over the
    macro's own; with no text, only the actions run. Returns the message, if any.

    Raises MacroNotAllowed for a macro not offered to ``user``, InvalidTransition when an
    action is refused (then nothing at all is written).
    """
    if not macro_is_available(macro=macro, user=user):
        raise MacroNotAllowed("This macro is not available to you.")
    actor = Actor.agent(user)
    as_note = macro.is_note if is_note is None else is_note
    target_status = status or macro.set_status or None

    message: Message | None = None
    if text.strip() or attachments:
        if as_note:
            message = message_add_note(ticket=ticket, author=user, text=text, attachments=attachments)
        else:
            message = message_reply(
                ticket=ticket, author=user, text=text, to=to, cc=cc, attachments=attachments, status=target_status
            )
            target_status = None  # the reply has set it, with its own event
    if macro.assign_to_me:
        ticket_assign(ticket=ticket, assignee=user, actor=actor)
    if macro.set_team_id is not None:
        ticket_set_team(ticket=ticket, team_id=macro.set_team_id, actor=actor)
    if macro.set_priority:
        ticket_set_priority(ticket=ticket, priority=macro.set_priority, actor=actor)
    if macro.add_tags:
        current = list(ticket.tags.values_list("name", flat=True))
        ticket_set_tags(ticket=ticket, names=[*current, *macro.add_tags], actor=actor)
    if target_status:
        ticket_change_status(ticket=ticket, status=target_status, actor=actor)
    events.macro_applied(ticket, macro_id=macro.pk, macro_name=macro.name, message=message, actor=actor)
    Macro.objects.filter(pk=macro.pk).update(usage_count=F("usage_count") + 1)
    return message


@transaction.atomic  # raises domain errors: keep a savepoint so a caller's transaction survives
def reply_box_submit(
    *,
    ticket: Ticket,
    user: Any,
    text: str,
    is_note: bool,
    to: Sequence[str] | None = None,
    cc: Sequence[str] = (),
    attachments: Sequence[IncomingFile] = (),
    status: str | None = None,
    macro: Macro | None = None,
) -> Message | None:
    """What the reply box's Send does: a reply or a note, then the status chosen beside it,
    or with a macro, ``macro_apply``. All or nothing: a refused status change (a closed
    ticket) takes the message back with it, and the view shows the text again."""
    if macro is not None:
        return macro_apply(
            macro=macro, ticket=ticket, user=user, text=text, is_note=is_note,
            to=to, cc=cc, attachments=attachments, status=status,
        )
    if is_note:
        message = message_add_note(ticket=ticket, author=user, text=text, attachments=attachments)
        if status:
            ticket_change_status(ticket=ticket, status=status, actor=Actor.agent(user))
        return message
    return message_reply(ticket=ticket, author=user, text=text, to=to, cc=cc, attachments=attachments, status=status)


# --- Personal macros ---------------------------------------------------------------


def _save_personal(macro: Macro) -> Macro:
    duplicate = f"You already have a macro named “{macro.name}”."
    if Macro.objects.filter(owner_id=macro.owner_id, name__iexact=macro.name).exclude(pk=macro.pk).exists():
        raise ValidationError({"name": duplicate})
    try:
        with transaction.atomic():
            macro.save()
    except IntegrityError:
        raise ValidationError({"name": duplicate}) from None
    return macro


@transaction.atomic
def macro_save_personal(
    *,
    owner: Any,
    macro: Macro | None = None,
    name: str,
    body: str = "",
    is_note: bool = False,
    set_status: str = "",
    set_priority: str = "",
    set_team: Team | None = None,
    add_tags: Sequence[str] = (),
    assign_to_me: bool = False,
    is_active: bool = True,
) -> Macro:
    """Create (``macro`` None) or update one of ``owner``'s own macros.

    Raises MacroNotAllowed for a macro that is not the owner's (shared ones are the
    admins'), ValidationError for a missing or duplicate name or an unknown status.
    """
    if macro is not None and (macro.owner_id is None or macro.owner_id != owner.pk):
        raise MacroNotAllowed("You can only edit your own macros.")
    fields = _macro_fields(name=name, set_status=set_status, set_priority=set_priority, add_tags=add_tags)
    macro = macro or Macro(owner=owner)
    macro.body, macro.is_note, macro.set_status, macro.set_priority = body, is_note, set_status, set_priority
    macro.set_team, macro.assign_to_me, macro.is_active = set_team, assign_to_me, is_active
    macro.name, macro.add_tags = fields["name"], fields["add_tags"]
    return _save_personal(macro)


@transaction.atomic
def macro_delete_personal(*, owner: Any, macro: Macro) -> None:
    """Delete one of ``owner``'s macros; tickets keep the name in their MACRO_APPLIED events."""
    if macro.owner_id is None or macro.owner_id != owner.pk:
        raise MacroNotAllowed("You can only delete your own macros.")
    macro.delete()

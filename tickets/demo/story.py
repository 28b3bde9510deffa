"""One ticket's life, replayed in memory with the rules of ``tickets.services``.

``ticket_story`` decides what happens to ticket i (its customer, channel, topic and the
conversation ``_play`` makes of it) and returns a ``Story`` holding the unsaved Ticket, its
Messages and the TicketEvents the services would have written; ``schedule`` decides when
the tickets were created. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from channels_inbox.models import Channel
from tickets.models import Customer, Message, Ticket, TicketEvent

from .base import CLOSE_AFTER, NUMBER, OUR_DOMAIN, SUPPORT_ADDRESS, WINDOW, digest, rng_for
from .cast import IDENTITY_KIND, Persona
from .topics import (
    BROWSERS,
    CITIES,
    DEVICES,
    HOLD_NOTES,
    INTERIM,
    MOBILE_DEVICES,
    NUDGES,
    PLANS,
    STALLED,
    THANKS,
    TOPICS,
    Case,
    Topic,
)


class Who(NamedTuple):
    """An event's actor, as ids (mirrors tickets.events.Actor)."""

    kind: str
    user_id: int | None = None
    customer_id: int | None = None


SYSTEM = Who(TicketEvent.ActorKind.SYSTEM)


class PlannedEvent(NamedTuple):
    """A TicketEvent row before its ticket and message have ids (a tuple: there are many)."""

    kind: str
    who: Who
    data: dict[str, Any]
    message: Message | None
    at: dt.datetime


class _Truncated(Exception):
    """The story has reached the present: what happened so far is the ticket's state."""


class Story:
    """One ticket replayed in memory with the rules of ``tickets.services``.

    Each public method mirrors the service of the same purpose (message_receive,
    message_reply, message_add_note, ticket_assign, ticket_change_status, ticket_set_team,
    ticket_set_priority, ticket_set_tags) and writes the same TicketEvent rows, with the
    same data, in the same order, at the same moment.
    """

    def __init__(self, *, index: int, ticket: Ticket, now: dt.datetime, customer_id: int, channel_kind: str, email: str) -> None:
        self.index = index
        self.ticket = ticket
        self.now = now
        self.clock = ticket.created_at
        self.customer = Who(TicketEvent.ActorKind.CUSTOMER, customer_id=customer_id)
        self.kind = channel_kind
        self.email = email
        self.messages: list[Message] = []
        self.events: list[PlannedEvent] = []
        self.tag_names: list[str] = []
        self._last_email_ids: list[str] = []  # the thread's Message-IDs, oldest first
        self._seq = 0

    # The clock ----------------------------------------------------------------------
    def wait(self, seconds: float) -> dt.datetime:
        """Move time on; raise _Truncated when the next step would lie in the future."""
        clock = self.clock + dt.timedelta(seconds=max(1.0, seconds))
        if clock >= self.now:
            raise _Truncated
        self.clock = clock
        return clock

    # Rows ---------------------------------------------------------------------------
    def _event(self, kind: str, who: Who, data: dict[str, Any], message: Message | None = None) -> None:
        self.events.append(PlannedEvent(kind, who, data, message, self.clock))

    def _external_id(self, direction: str) -> str | None:
        """The channel's id for a message, in the shape each platform uses.

        Unique by construction: the ticket's index and the message's place in it go in
        (hashed where the platform's ids look random), never the time or the thread key,
        which tickets share.
        """
        self._seq += 1
        key = (self.kind, direction, self.index, self._seq)
        if self.kind == "email":
            if direction == Message.Direction.OUTBOUND:
                return f"parley.{NUMBER}.{digest(*key, length=32)}@{OUR_DOMAIN}"
            return f"{digest(*key, length=24)}@{self.email.rpartition('@')[2] or 'mail.example'}"
        return {
            "chat": lambda: f"chat-{digest(*key, length=32)}",
            # Telegram numbers messages per chat; the chat is the thread key.
            "telegram": lambda: f"{self.ticket.thread_key}:{self.index * 100 + self._seq}",
            "messenger": lambda: f"m_{digest(*key)}",
            "instagram": lambda: f"aWdfZAG{digest(*key, length=48)}",
            "whatsapp": lambda: f"wamid.HBgL{digest(*key).upper()}",
            "sms": lambda: f"SM{digest(*key, length=32)}",
            "api": lambda: f"msg-{digest(*key, length=20)}",
        }[self.kind]()

    def _set_status(self, new: str, *, who: Who) -> None:
        """tickets.services.tickets._set_status: timestamps, reopen counting and its events."""
        t, old = self.ticket, self.ticket.status
        if old == new:
            return
        t.status = new
        if new == Ticket.Status.SOLVED:
            t.solved_at = self.clock
        elif new == Ticket.Status.CLOSED:
            t.closed_at = self.clock
            if t.solved_at is None:
                t.solved_at = self.clock
        self._event(TicketEvent.Kind.STATUS_CHANGED, who, {"from": old, "to": new})
        if old in (Ticket.Status.SOLVED, Ticket.Status.CLOSED) and new in Ticket.UNSOLVED_STATUSES:
            t.reopen_count += 1
            t.solved_at = None
            t.closed_at = None
            self._event(TicketEvent.Kind.REOPENED, who, {"from": old, "reopen_count": t.reopen_count})

    # Services -----------------------------------------------------------------------
    def open(self, *, text: str, subject: str, team_id: int | None) -> None:
        """ticket_open + message_receive + the pipeline's routing step, as for an inbound message."""
        t = self.ticket
        self._event(TicketEvent.Kind.CREATED, self.customer, {"channel": t.channel_id, "status": t.status, "priority": t.priority})
        self.receive(text=text, subject=subject)
        if team_id:
            self.set_team(team_id=team_id, who=SYSTEM)

    def receive(self, *, text: str, subject: str = "") -> None:
        t = self.ticket
        in_reply_to, references = "", ""
        if self.kind == "email":
            if self._last_email_ids:
                in_reply_to = self._last_email_ids[-1]
                references = " ".join(self._last_email_ids[-20:])
                subject = subject or f"Re: [#{NUMBER}] Re: {t.subject}"
            else:
                subject = subject or t.subject
        else:
            subject = ""
        message = Message(
            ticket=t,
            channel_id=t.channel_id,
            direction=Message.Direction.INBOUND,
            author_kind=Message.AuthorKind.CUSTOMER,
            author_customer_id=self.customer.customer_id,
            subject=subject[:500],
            text=text,
            external_id=self._external_id(Message.Direction.INBOUND),
            in_reply_to=in_reply_to,
            references=references,
            to=[SUPPORT_ADDRESS] if self.kind == "email" else [],
            created_at=self.clock,
        )
        if self.kind == "email":
            self._last_email_ids.append(message.external_id or "")
        self.messages.append(message)
        t.last_customer_activity_at = self.clock
        if t.status in (Ticket.Status.PENDING, Ticket.Status.ON_HOLD, Ticket.Status.SOLVED):
            self._set_status(Ticket.Status.OPEN, who=self.customer)
        t.updated_at = self.clock
        self._event(TicketEvent.Kind.MESSAGE_ADDED, self.customer, {"direction": message.direction, "is_auto_reply": False}, message)

    def reply(self, *, agent: int, text: str, status: str | None = None) -> None:
        t = self.ticket
        is_email = self.kind == "email"
        who = Who(TicketEvent.ActorKind.AGENT, user_id=agent)
        inbound_ids = [m.external_id for m in self.messages if m.direction == Message.Direction.INBOUND and m.external_id]
        last_inbound = next((m for m in reversed(self.messages) if m.direction == Message.Direction.INBOUND), None)
        references = (last_inbound.references.split() if last_inbound else []) + (inbound_ids[-1:] if is_email else [])
        subject = t.subject if t.subject.lower().startswith("re:") else f"Re: {t.subject}"
        message = Message(
            ticket=t,
            channel_id=t.channel_id,
            direction=Message.Direction.OUTBOUND,
            author_kind=Message.AuthorKind.AGENT,
            author_user_id=agent,
            subject=f"[#{NUMBER}] {subject}"[:500] if is_email else "",
            text=text,
            external_id=self._external_id(Message.Direction.OUTBOUND),
            in_reply_to=(inbound_ids[-1] if inbound_ids and is_email else ""),
            references=" ".join(references[-20:]),
            to=[self.email] if self.email else [],
            delivery_status=Message.DeliveryStatus.SENT,
            sent_at=self.clock + dt.timedelta(seconds=2),
            created_at=self.clock,
        )
        if is_email:
            self._last_email_ids.append(message.external_id or "")
        self.messages.append(message)
        t.last_agent_activity_at = self.clock
        if t.first_response_at is None:
            t.first_response_at = self.clock
        target = status or (Ticket.Status.OPEN if t.status == Ticket.Status.NEW else None)
        if target:
            self._set_status(target, who=who)
        t.updated_at = self.clock
        self._event(TicketEvent.Kind.MESSAGE_ADDED, who, {"direction": message.direction, "is_auto_reply": False}, message)

    def note(self, *, agent: int, text: str) -> None:
        message = Message(
            ticket=self.ticket,
            direction=Message.Direction.NOTE,
            author_kind=Message.AuthorKind.AGENT,
            author_user_id=agent,
            text=text,
            created_at=self.clock,
        )
        self.messages.append(message)
        self.ticket.updated_at = self.clock
        who = Who(TicketEvent.ActorKind.AGENT, user_id=agent)
        self._event(TicketEvent.Kind.MESSAGE_ADDED, who, {"direction": message.direction, "is_auto_reply": False}, message)

    def assign(self, *, agent: int, who: Who) -> None:
        t = self.ticket
        if t.assignee_id == agent:
            return
        old = t.assignee_id
        t.assignee_id = agent
        t.updated_at = self.clock
        if t.status == Ticket.Status.NEW:
            self._set_status(Ticket.Status.OPEN, who=who)
        self._event(TicketEvent.Kind.ASSIGNED, who, {"from": old, "to": agent})

    def change_status(self, *, status: str, who: Who) -> None:
        if self.ticket.status != status:
            self._set_status(status, who=who)
            self.ticket.updated_at = self.clock

    def set_team(self, *, team_id: int, who: Who) -> None:
        t = self.ticket
        if t.team_id != team_id:
            self._event(TicketEvent.Kind.TEAM_CHANGED, who, {"from": t.team_id, "to": team_id})
            t.team_id = team_id
            t.updated_at = self.clock

    def set_priority(self, *, priority: str, who: Who) -> None:
        t = self.ticket
        if t.priority != priority:
            self._event(TicketEvent.Kind.PRIORITY_CHANGED, who, {"from": t.priority, "to": priority})
            t.priority = priority
            t.updated_at = self.clock

    def set_tags(self, *, names: Sequence[str], who: Who) -> None:
        wanted = sorted(set(names))
        added, removed = sorted(set(wanted) - set(self.tag_names)), sorted(set(self.tag_names) - set(wanted))
        if added or removed:
            self.tag_names = wanted
            self.ticket.updated_at = self.clock
            self._event(TicketEvent.Kind.TAGS_CHANGED, who, {"added": added, "removed": removed})


@dataclass
class World:
    """The rows a ticket's story refers to, looked up once per run."""

    channels: dict[str, Channel]
    teams: dict[str, int]
    team_agents: dict[str, list[int]]
    manager_id: int
    personas: list[Persona]
    customer_ids: list[int]
    organization_ids: list[int]
    agent_names: dict[int, str]
    now: dt.datetime


# Typical waits in seconds (the median of a log-normal): first response, customer reply, agent reply.
_PACE = {"chat": (180, 90, 120), "email": (5 * 3600, 5 * 3600, 4 * 3600), "api": (6 * 3600, 6 * 3600, 4 * 3600)}
_SOCIAL_PACE = (45 * 60, 40 * 60, 40 * 60)


def _wait(rng: random.Random, median: float) -> float:
    return min(median * rng.lognormvariate(0, 0.8), 3 * 86400)


def _play(
    *, story: Story, rng: random.Random, topic: Topic, case: Case, world: World, persona: Persona, fill: dict[str, str]
) -> None:
    """A ticket's conversation: triage, answer, a few rounds, solution, maybe a reopening, closing.

    Every line about the matter comes from the ticket's one ``case`` (or, for a reopening,
    from its topic); the rest is small talk that fits any ticket.
    """
    t = story.ticket
    first, customer_pace, agent_pace = _PACE.get(story.kind, _SOCIAL_PACE)
    if t.priority in (Ticket.Priority.HIGH, Ticket.Priority.URGENT) or topic.priority == Ticket.Priority.URGENT:
        first *= 0.4
    owner = rng.choice(world.team_agents[topic.team])
    manager = Who(TicketEvent.ActorKind.AGENT, user_id=world.manager_id)
    me = Who(TicketEvent.ActorKind.AGENT, user_id=owner)
    signature = f"\n\nBest regards,\n{world.agent_names[owner]}\nParley Demo Support" if story.kind == "email" else ""

    def say(line: str) -> str:
        return line.format(**fill)

    def reply(text: str, status: str | None = None) -> None:
        greeting = f"Hi {persona.first_name},\n\n" if story.kind == "email" else ""
        story.reply(agent=owner, text=f"{greeting}{text}{signature}", status=status)

    def customer(text: str) -> None:
        story.receive(text=f"{text}\n\n{persona.first_name}" if story.kind == "email" else text)

    def noted() -> bool:
        return any(m.direction == Message.Direction.NOTE for m in story.messages)

    response = _wait(rng, first)
    if response > 4 * 3600 and rng.random() < 0.3:
        story.wait(response * 0.5)
        customer(rng.choice(NUDGES))
        t.sentiment = round(rng.uniform(-0.8, -0.3), 2)
        response *= 0.5
    mode = rng.random()
    if world.teams[topic.team] != t.team_id:  # the manager moves it to the team that owns the topic
        story.wait(response * 0.3)
        story.set_team(team_id=world.teams[topic.team], who=manager)
        response *= 0.7
    if mode < 0.15:
        story.wait(rng.uniform(20, 90))
        story.assign(agent=owner, who=SYSTEM)  # round-robin assignment
    elif mode < 0.4:
        story.wait(response * 0.4)
        story.assign(agent=owner, who=manager)
        response *= 0.6
    story.wait(response)
    story.assign(agent=owner, who=me)
    story.set_tags(names=[*topic.tags, *(("vip",) if persona.tier == Customer.Tier.VIP else ())], who=me)
    keeps_vip_priority = persona.tier == Customer.Tier.VIP and topic.priority in (Ticket.Priority.NORMAL, Ticket.Priority.LOW)
    if topic.priority != t.priority and not keeps_vip_priority:
        story.set_priority(priority=topic.priority, who=me)
    if rng.random() < 0.2:
        story.note(agent=owner, text=say(case.note))
        story.wait(rng.uniform(60, 600))

    path = rng.random()
    if path < 0.22:  # answered at once
        reply(say(case.answer), Ticket.Status.SOLVED)
        if rng.random() < 0.2:  # a thank-you reopens the ticket; the agent solves it again
            story.wait(_wait(rng, customer_pace))
            customer(rng.choice(THANKS))
            story.wait(_wait(rng, agent_pace * 0.5))
            story.change_status(status=Ticket.Status.SOLVED, who=me)
    elif path < 0.72:  # back and forth with the customer
        reply(say(case.answer), Ticket.Status.PENDING)
        rounds = rng.choice((1, 1, 1, 2, 3))
        for round_ in range(rounds):
            if rng.random() < 0.12:  # nothing more from the customer
                story.wait(rng.uniform(3, 7) * 86400)
                # Days later the agent solves it: for want of an answer to the first reply, or,
                # after an interim word (the agent owed the next message), with the solution.
                reply(rng.choice(STALLED) if round_ == 0 else say(case.resolution), Ticket.Status.SOLVED)
                break
            story.wait(_wait(rng, customer_pace))
            # The customer answers the agent's reply; later rounds follow the agent's interim word.
            customer(say(case.follow_up) if round_ == 0 else rng.choice(NUDGES))
            story.wait(_wait(rng, agent_pace))
            if rng.random() < 0.15 and not noted():
                story.note(agent=owner, text=say(case.note))
                story.wait(rng.uniform(60, 900))
            last = round_ == rounds - 1 or rng.random() < 0.6
            reply(say(case.resolution) if last else rng.choice(INTERIM), Ticket.Status.SOLVED if last else Ticket.Status.PENDING)
            if last:
                break
    else:  # waits on someone else (engineering, the carrier) first
        reply(say(case.hold), Ticket.Status.ON_HOLD)
        story.note(agent=owner, text=rng.choice(HOLD_NOTES) if noted() else say(case.note))
        if rng.random() < 0.4:
            story.wait(_wait(rng, customer_pace * 3))
            customer(rng.choice(NUDGES))
            story.wait(_wait(rng, agent_pace))
            reply(rng.choice(INTERIM), Ticket.Status.ON_HOLD)
        story.wait(rng.uniform(0.5, 12) * 86400)
        reply(say(case.resolution), Ticket.Status.SOLVED)

    if t.status == Ticket.Status.SOLVED and rng.random() < 0.07:  # the problem comes back
        story.wait(rng.uniform(0.3, 3) * 86400)
        customer(say(topic.reopen))
        story.wait(_wait(rng, agent_pace))
        reply(say(topic.reopen_reply), Ticket.Status.SOLVED)
    if t.status == Ticket.Status.SOLVED and t.solved_at is not None:
        story.wait((t.solved_at + CLOSE_AFTER - story.clock).total_seconds())
        story.change_status(status=Ticket.Status.CLOSED, who=SYSTEM)


def ticket_story(*, index: int, created_at: dt.datetime, world: World) -> Story:
    """Build ticket ``index`` (not yet saved) with its messages and events."""
    rng = rng_for("ticket", index)
    c = min(int(len(world.customer_ids) * rng.random() ** 1.5), len(world.customer_ids) - 1)
    persona = world.personas[c]
    kind = persona.kinds[0] if rng.random() < 0.8 or len(persona.kinds) == 1 else rng.choice(persona.kinds[1:])
    topics = [tp for tp in TOPICS if kind != "api" or tp.team == "technical" or tp.key == "feature"]
    topic = rng.choices(topics, weights=[tp.weight for tp in topics])[0]
    channel = world.channels[kind]
    earlier = created_at - dt.timedelta(days=rng.randrange(1, 10))
    fill = {
        "order": f"#{rng.randrange(100_000, 999_999)}",
        "invoice": f"INV-{created_at:%Y}-{rng.randrange(1000, 99999):05d}",
        "amount": f"${rng.choice((19, 29, 49, 79, 99, 149, 249))}.00",
        "plan": rng.choice(PLANS),
        "date": f"{earlier:%B} {earlier.day}",
        "browser": rng.choice(BROWSERS),
        "device": rng.choice(DEVICES),
        "mobile": rng.choice(MOBILE_DEVICES),
        "city": rng.choice(CITIES),
        "ref": str(rng.randrange(1000, 9999)),
    }
    # The conversation key: a chat session or an API conversation per ticket; on messaging
    # networks the customer's chat with us (their id or phone number), as platforms key it.
    identity = {k: a for k, a, _ in persona.identities}
    thread_key = {
        "email": "",
        "chat": f"session-{digest('session', index, length=20)}",
        "api": f"conv-{digest('conversation', index, length=12)}",
    }.get(kind, identity[IDENTITY_KIND[kind]])
    # One case for the whole conversation: its subject, the first message and every reply.
    case = rng.choice(topic.cases)
    if kind == "email":
        subject = rng.choice(case.subjects).format(**fill)
        text = f"{rng.choice(('Hello', 'Hi', 'Hi there', 'Good morning'))},\n\n{case.ask.format(**fill)}\n\nThanks,\n{persona.name}"
    else:
        text = case.chat.format(**fill)
        subject = rng.choice(case.subjects).format(**fill) if kind == "api" else text.splitlines()[0][:120]
    ticket = Ticket(
        subject=subject[:500],
        status=Ticket.Status.NEW,
        priority=Ticket.Priority.HIGH if persona.tier == Customer.Tier.VIP else Ticket.Priority.NORMAL,
        channel=channel,
        customer_id=world.customer_ids[c],
        organization_id=world.organization_ids[persona.organization] if persona.organization is not None else None,
        language="en",
        thread_key=thread_key[:255],
        created_at=created_at,
        updated_at=created_at,
    )
    if rng.random() < 0.45:
        ticket.sentiment = round(rng.uniform(*topic.sentiment), 2)
    story = Story(index=index, ticket=ticket, now=world.now, customer_id=world.customer_ids[c], channel_kind=kind, email=persona.email)
    try:
        story.open(text=text, subject=subject, team_id=channel.default_team_id)
        _play(story=story, rng=rng, topic=topic, case=case, world=world, persona=persona, fill=fill)
    except _Truncated:
        pass
    return story


def schedule(*, count: int, start: int, size: int, now: dt.datetime) -> list[dt.datetime]:
    """Creation times for ``count`` tickets over the window, busier on weekdays and working
    hours and growing over the weeks (so the recent inbox is lively), in order (so ticket
    numbers grow with time as they would in a real helpdesk).

    The window ends at the top of the current hour, so runs within the same hour schedule
    exactly the same moments (the rest of the data then comes out the same too).
    """
    rng = rng_for("schedule", start, size)
    hour_weight = (2, 1.5, 1, 1, 1, 1.5, 3, 5, 8, 10, 10, 10, 9, 9, 10, 10, 9, 8, 6, 5, 4, 4, 3, 2.5)
    end = now.replace(minute=0, second=0, microsecond=0)
    begin, span = end - WINDOW, WINDOW.total_seconds()
    times: list[dt.datetime] = []
    while len(times) < count:
        moment = begin + dt.timedelta(seconds=int(rng.uniform(0, span)))
        growth = 0.5 + (moment - begin) / WINDOW  # from 0.5 to 1.5
        weight = hour_weight[moment.hour] / 10 * (0.45 if moment.weekday() >= 5 else 1.0) * growth / 1.5
        if rng.random() < weight:
            times.append(moment)
    return sorted(times)

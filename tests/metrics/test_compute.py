"""The definitions of docs/metrics.md on hand-built event histories (pure function, no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from metrics.compute import TicketFacts, compute
from tickets.routing.business_hours import Calendar

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class Ev:
    kind: str
    created_at: dt.datetime
    actor_kind: str = "system"
    data: dict[str, Any] = field(default_factory=dict)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def created(when: dt.datetime = T0) -> Ev:
    return Ev("created", when, "customer", {"status": "new", "channel": 1, "priority": "normal"})


def customer_says(when: dt.datetime) -> Ev:
    return Ev("message_added", when, "customer", {"direction": "inbound", "is_auto_reply": False})


def agent_replies(when: dt.datetime) -> Ev:
    return Ev("message_added", when, "agent", {"direction": "outbound", "is_auto_reply": False})


def status(when: dt.datetime, old: str, new: str, actor: str = "agent") -> Ev:
    return Ev("status_changed", when, actor, {"from": old, "to": new})


def reopened(when: dt.datetime) -> Ev:
    return Ev("reopened", when, "customer", {"from": "solved", "reopen_count": 1})


def run(events: list[Ev], *, calendar: Calendar | None = None, created_at: dt.datetime = T0, tz=UTC, **facts):
    final = "new"
    for event in events:
        if event.kind == "status_changed":
            final = event.data["to"]
    return compute(TicketFacts(created_at=created_at, status=final, **facts), events, calendar=calendar, tz=tz)


def test_reply_then_solve():
    m = run(
        [
            created(),
            customer_says(at(0)),
            status(at(2), "new", "open"),
            agent_replies(at(2)),
            status(at(5), "open", "solved"),
        ]
    )
    assert m.first_response_at == at(2)
    assert m.first_response_seconds == m.first_response_business_seconds == 2 * 3600
    assert m.first_resolution_seconds == m.full_resolution_seconds == 5 * 3600
    assert m.is_solved and m.solved_at == at(5) and m.solved_date == dt.date(2026, 3, 2)
    assert m.agent_replies == 1 and m.customer_messages == 1 and m.reopens == 0
    assert m.first_contact_resolved is True
    assert m.next_response_count == 0


def test_auto_replies_and_notes_are_not_responses():
    m = run(
        [
            created(),
            customer_says(at(0)),
            Ev("message_added", at(0.1), "system", {"direction": "outbound", "is_auto_reply": True}),
            Ev("message_added", at(0.5), "agent", {"direction": "note", "is_auto_reply": False}),
            agent_replies(at(3)),
        ]
    )
    assert m.first_response_seconds == 3 * 3600
    assert m.agent_replies == 1
    assert not m.is_solved and m.full_resolution_seconds is None and m.first_contact_resolved is False


def test_pending_time_is_excluded_from_resolution_and_counted_apart():
    m = run(
        [
            created(),
            agent_replies(at(1)),
            status(at(1), "new", "pending"),
            customer_says(at(25)),
            status(at(25), "pending", "open"),
            agent_replies(at(26)),
            status(at(27), "open", "solved"),
        ]
    )
    assert m.pending_seconds == 24 * 3600
    # 1 h new + 2 h open: the 24 h waiting on the customer do not count.
    assert m.full_resolution_seconds == m.first_resolution_seconds == 3 * 3600
    assert m.next_response_count == 1 and m.next_response_seconds == 3600
    assert m.first_contact_resolved is False  # two agent replies


def test_reopen_then_solve_again_first_vs_full_resolution():
    m = run(
        [
            created(),
            agent_replies(at(1)),
            status(at(2), "new", "solved"),
            customer_says(at(50)),
            status(at(50), "solved", "open", actor="customer"),
            reopened(at(50)),
            agent_replies(at(52)),
            status(at(54), "open", "solved"),
        ]
    )
    assert m.first_solved_at == at(2) and m.solved_at == at(54)
    assert m.first_resolution_seconds == 2 * 3600
    # 2 h before the first solve + 4 h after the reopening; the 48 h solved do not count.
    assert m.full_resolution_seconds == 6 * 3600
    assert m.reopens == 1
    assert m.first_contact_resolved is False
    assert m.next_response_count == 1 and m.next_response_seconds == 2 * 3600


def test_reopened_and_still_open_has_no_full_resolution():
    m = run([created(), agent_replies(at(1)), status(at(2), "new", "solved"), status(at(3), "solved", "open"), reopened(at(3))])
    assert not m.is_solved and m.solved_at is None and m.full_resolution_seconds is None
    assert m.first_resolution_seconds == 2 * 3600  # the first solve still happened
    assert m.first_contact_resolved is False


def test_first_contact_resolution_needs_one_reply_and_no_reopen():
    one_reply = [created(), agent_replies(at(1)), status(at(1), "new", "solved")]
    assert run(one_reply).first_contact_resolved is True
    assert run([created(), status(at(1), "new", "solved")]).first_contact_resolved is False  # no reply at all
    two = [created(), agent_replies(at(1)), agent_replies(at(2)), status(at(2), "new", "solved")]
    assert run(two).first_contact_resolved is False
    merged = [*one_reply, Ev("merged", at(1), "agent", {"role": "source", "other_id": 9})]
    assert run(merged).first_contact_resolved is False and run(merged).merged_away is True


def test_closing_an_unsolved_ticket_is_a_solve_but_closing_a_solved_one_is_not():
    m = run([created(), status(at(1), "new", "solved"), status(at(30), "solved", "closed")])
    assert m.solved_at == at(1) and m.full_resolution_seconds == 3600 and m.status == "closed"
    m = run([created(), status(at(4), "new", "closed")])
    assert m.solved_at == at(4) and m.full_resolution_seconds == 4 * 3600


def test_business_hours_across_a_weekend():
    calendar = Calendar.build(time_zone="Europe/Berlin", schedule=WEEKDAYS_9_TO_5)
    friday_4pm = dt.datetime(2026, 11, 20, 16, 0, tzinfo=BERLIN)
    monday_10am = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
    m = run([created(friday_4pm), agent_replies(monday_10am), status(monday_10am, "new", "solved")], calendar=calendar, created_at=friday_4pm, tz=BERLIN)
    assert m.first_response_seconds == 66 * 3600
    assert m.first_response_business_seconds == 2 * 3600  # Fri 16-17 + Mon 9-10
    assert m.full_resolution_business_seconds == 2 * 3600


def test_business_hours_across_a_dst_change():
    # Berlin leaves summer time on Sunday 2026-10-25: that Sunday lasts 25 hours.
    calendar = Calendar.build(time_zone="Europe/Berlin", schedule={"sun": [["00:00", "24:00"]]})
    saturday_11pm = dt.datetime(2026, 10, 24, 23, 0, tzinfo=BERLIN)
    monday_1am = dt.datetime(2026, 10, 26, 1, 0, tzinfo=BERLIN)
    m = run([created(saturday_11pm), agent_replies(monday_1am)], calendar=calendar, created_at=saturday_11pm, tz=BERLIN)
    assert m.first_response_seconds == 27 * 3600  # 1 h + 25 h + 1 h of real time
    assert m.first_response_business_seconds == 25 * 3600


def test_dates_are_local_to_the_company_zone():
    late_evening_utc = dt.datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # already 3 March in Berlin
    m = run([created(late_evening_utc), status(late_evening_utc + dt.timedelta(hours=1), "new", "solved")], created_at=late_evening_utc, tz=BERLIN)
    assert m.created_date == dt.date(2026, 3, 3) and m.solved_date == dt.date(2026, 3, 3)
    assert run([created(late_evening_utc)], created_at=late_evening_utc, tz=UTC).created_date == dt.date(2026, 3, 2)


def test_sla_compliance_per_metric():
    due = {"first_response": at(1).isoformat(), "next_response": None, "resolution": at(8).isoformat()}
    events = [created(), Ev("sla_applied", at(0), "system", {"policy": 1, "due": due})]
    m = run([*events, Ev("sla_breached", at(1), "system", {"metric": "first_response"})])
    assert (m.sla_first_response_met, m.sla_next_response_met, m.sla_resolution_met) == (False, None, True)
    assert run([created()]).sla_first_response_met is None


def test_dimensions_are_copied_from_the_ticket():
    m = run([created()], team_id=3, assignee_id=7, channel_id=2, channel_kind="email", priority="high", customer_tier="vip")
    assert (m.team_id, m.assignee_id, m.channel_kind, m.priority, m.customer_tier) == (3, 7, "email", "high", "vip")

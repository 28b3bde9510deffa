"""Rollups from hand-built tickets (tests/metrics/fixture.py): every figure to the second,
computed as events happen (refresh + beat after each one) and by a full recompute."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from metrics.models import BacklogRollup, DailyRollup, DirtyDay, TicketMetrics
from metrics.services import rollups_refresh, ticket_metrics_refresh
from tests.metrics import fixture

pytestmark = pytest.mark.django_db

D = dt.date


def rows(model) -> dict[tuple, dict]:
    fields = [f.name for f in model._meta.fields if f.name != "id"]
    out = {}
    for row in model.objects.all():
        data = model_to_dict(row, fields=fields)
        key = (data.pop("day"), data.pop("team_id"), data.pop("agent_id"), data.pop("channel_kind"), data.pop("priority"), data.pop("customer_tier"))
        out[key] = {k: round(v, 3) if isinstance(v, float) else v for k, v in data.items()}
    return out


def nonzero(data: dict) -> dict:
    return {k: v for k, v in data.items() if v}


def incremental_world():
    def step(ticket):
        if ticket is not None:
            ticket_metrics_refresh(ticket_id=ticket.pk)
        rollups_refresh()

    return fixture.build(on_step=step)


def test_every_figure_to_the_second_and_incremental_equals_recompute():
    world = incremental_world()
    assert not DirtyDay.objects.filter(marked_at__lte=dt.datetime.now(dt.UTC)).exclude(kind="backlog").exists()
    daily, backlog = rows(DailyRollup), rows(BacklogRollup)
    team, agent = world.team_id, world.agent_id

    # T1: created Monday 2 March (NY), solved Tuesday 3 March; the late CSAT counts on the 3rd.
    t1_created = (D(2026, 3, 2), team, agent, "email", "normal", "vip")
    t1_solved = (D(2026, 3, 3), team, agent, "email", "normal", "vip")
    assert nonzero(daily[t1_created]) == {
        "created": 1, "created_resolvable": 1, "created_solved": 1,
        "first_response_count": 1, "first_response_seconds": 61200.0, "first_response_business_seconds": 3600.0,
        "sla_first_response_missed": 1,
    }
    assert nonzero(daily[t1_solved]) == {
        "solved": 1, "first_resolution_seconds": 61200.0, "first_resolution_business_seconds": 3600.0,
        "full_resolution_seconds": 61200.0, "full_resolution_business_seconds": 3600.0,
        "solved_first_contact": 1, "solved_replies": 1, "sla_resolution_met": 1,
        "surveys_sent": 1, "surveys_answered": 1, "csat_positive": 1, "csat_total": 1,
    }
    # T2: 04:30 UTC on the 3rd is 23:30 on the 2nd in New York; last solved on the 5th.
    t2_created = (D(2026, 3, 2), 0, 0, "chat", "high", "standard")
    assert nonzero(daily[t2_created]) == {
        "created": 1, "created_resolvable": 1, "created_solved": 1,
        "first_response_count": 1, "first_response_seconds": 3600.0, "first_response_business_seconds": 3600.0,
        "next_response_count": 1, "next_response_seconds": 1800.0, "next_response_business_seconds": 1800.0,
    }
    assert nonzero(daily[(D(2026, 3, 5), 0, 0, "chat", "high", "standard")]) == {
        "solved": 1, "first_resolution_seconds": 5400.0, "first_resolution_business_seconds": 5400.0,
        "full_resolution_seconds": 9000.0, "full_resolution_business_seconds": 9000.0,
        "solved_reopened": 1, "solved_replies": 2,
    }
    # Nothing of T2 remains on the 3rd (its first solve): solved counts on the latest solve.
    assert (D(2026, 3, 3), 0, 0, "chat", "high", "standard") not in daily
    # T3, merged away: volume only.
    assert nonzero(daily[(D(2026, 3, 2), 0, 0, "email", "normal", "vip")]) == {"created": 1}
    # The NPS answer without a ticket: the customer's tier, no team, agent or channel.
    assert nonzero(daily[(D(2026, 3, 4), 0, 0, "", "", "vip")]) == {"nps_promoters": 1}
    # T4, created 25 Feb (NY), never solved: no solve anywhere.
    assert nonzero(daily[(D(2026, 2, 25), 0, 0, "email", "normal", "standard")]) == {"created": 1, "created_resolvable": 1}
    assert sum(r["solved"] for r in daily.values()) == 2
    assert sum(r["created"] for r in daily.values()) == 4

    # Backlog at the end of 2 March NY (05:00 UTC on the 3rd): T4 (5 d 17 h old), T2 (30 min),
    # T1 (13 h 30 min); T3 is merged away.
    end_2 = {k: v for k, v in backlog.items() if k[0] == D(2026, 3, 2)}
    assert end_2 == {
        (D(2026, 3, 2), 0, 0, "email", "normal", "standard"): {
            "open_count": 1, "age_seconds": 493200.0, "age_under_1d": 0, "age_1_3d": 0, "age_3_7d": 1, "age_over_7d": 0,
        },
        (D(2026, 3, 2), 0, 0, "chat", "high", "standard"): {
            "open_count": 1, "age_seconds": 1800.0, "age_under_1d": 1, "age_1_3d": 0, "age_3_7d": 0, "age_over_7d": 0,
        },
        (D(2026, 3, 2), team, agent, "email", "normal", "vip"): {
            "open_count": 1, "age_seconds": 48600.0, "age_under_1d": 1, "age_1_3d": 0, "age_3_7d": 0, "age_over_7d": 0,
        },
    }
    # The reopening on the 5th was solved the same day: only T4 is open at the end of the 3rd..5th.
    for day in (3, 4, 5):
        assert [k[3:] for k in backlog if k[0] == D(2026, 3, day)] == [("email", "normal", "standard")]
    # T4 stays in the backlog every day up to today, aging.
    t4_days = sorted(k[0] for k in backlog if k[3] == "email" and k[5] == "standard")
    assert t4_days[0] == D(2026, 2, 25) and len(t4_days) == (t4_days[-1] - t4_days[0]).days + 1
    assert backlog[(D(2026, 3, 9), 0, 0, "email", "normal", "standard")]["age_over_7d"] == 1

    # A full recompute from scratch gives exactly the same rows.
    DailyRollup.objects.all().delete()
    BacklogRollup.objects.all().delete()
    TicketMetrics.objects.all().delete()
    call_command("recompute_metrics")
    assert rows(DailyRollup) == daily
    assert rows(BacklogRollup) == backlog

    # ... and so does a range rebuild from a date, leaving earlier days alone.
    DailyRollup.objects.filter(day__gte=D(2026, 3, 3)).update(created=99)
    call_command("recompute_metrics", "--since", "2026-03-03", "--rollups-only")
    assert rows(DailyRollup) == daily and rows(BacklogRollup) == backlog


def test_a_late_reopening_corrects_old_days_through_the_beat():
    world = incremental_world()
    t1 = world.tickets["T1"]
    from tests.factories import TicketEventFactory

    # Long after, the customer reopens T1: its solved day (3 March) loses it.
    at = dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC)
    TicketEventFactory(ticket=t1, kind="status_changed", actor_kind="customer", created_at=at, data={"from": "solved", "to": "open"})
    TicketEventFactory(ticket=t1, kind="reopened", actor_kind="customer", created_at=at, data={"from": "solved"})
    ticket_metrics_refresh(ticket_id=t1.pk)
    assert DirtyDay.objects.filter(kind="daily", day=D(2026, 3, 3)).exists()
    rollups_refresh()
    key = (D(2026, 3, 3), world.team_id, world.agent_id, "email", "normal", "vip")
    day = DailyRollup.objects.get(day=key[0], team_id=key[1], agent_id=key[2], channel_kind="email")
    assert day.solved == 0 and day.csat_total == 1  # the survey still counts on the day it was sent
    created = DailyRollup.objects.get(day=D(2026, 3, 2), team_id=world.team_id)
    assert created.created == 1 and created.created_solved == 0
    # Back in the backlog from 1 April on (NY date of 12:00 UTC).
    assert BacklogRollup.objects.filter(team_id=world.team_id, day=D(2026, 4, 1)).get().open_count == 1
    assert not BacklogRollup.objects.filter(team_id=world.team_id, day=D(2026, 3, 31)).exists()

    daily, backlog = rows(DailyRollup), rows(BacklogRollup)
    call_command("recompute_metrics")
    assert rows(DailyRollup) == daily and rows(BacklogRollup) == backlog


def test_the_beat_is_idempotent_and_keeps_marks_made_during_a_run():
    incremental_world()
    before = rows(DailyRollup), rows(BacklogRollup)
    rollups_refresh()
    rollups_refresh()
    assert (rows(DailyRollup), rows(BacklogRollup)) == before
    assert not DirtyDay.objects.filter(kind="daily").exists()


def test_moving_a_long_open_ticket_to_another_team_moves_its_whole_backlog():
    world = incremental_world()
    t4 = world.tickets["T4"]
    from tickets.models import Ticket

    # T4 has been open since 25 February: every backlog day of it moves to the Berlin team.
    Ticket.objects.filter(pk=t4.pk).update(team_id=world.team_id)
    ticket_metrics_refresh(ticket_id=t4.pk)
    rollups_refresh()
    days = BacklogRollup.objects.filter(team_id=world.team_id, channel_kind="email", customer_tier="standard")
    assert days.order_by("day").first().day == D(2026, 2, 25) and days.count() > 200
    assert not BacklogRollup.objects.filter(team_id=0, channel_kind="email", customer_tier="standard").exists()
    assert DailyRollup.objects.get(day=D(2026, 2, 25)).team_id == world.team_id

    daily, backlog = rows(DailyRollup), rows(BacklogRollup)
    call_command("recompute_metrics")
    assert rows(DailyRollup) == daily and rows(BacklogRollup) == backlog

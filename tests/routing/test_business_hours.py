"""Business-hours arithmetic across time zones, DST changes and holidays."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tickets.routing.business_hours import (
    Calendar,
    CalendarError,
    add_business_seconds,
    business_seconds_between,
    is_open,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_17 = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
HOUR = 3600


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def test_within_a_working_day_the_clock_runs_plainly():
    cal = Calendar.build(time_zone="Europe/Berlin", schedule=WEEKDAYS_9_TO_17)
    # Wednesday 2025-01-15 10:00 + 2 h = 12:00.
    assert add_business_seconds(cal, berlin(2025, 1, 15, 10), 2 * HOUR) == berlin(2025, 1, 15, 12)


def test_time_left_at_closing_carries_over_the_night_and_the_weekend():
    cal = Calendar.build(time_zone="Europe/Berlin", schedule=WEEKDAYS_9_TO_17)
    # Friday 16:00 + 2 h: one hour on Friday, one on Monday morning.
    assert add_business_seconds(cal, berlin(2025, 1, 17, 16), 2 * HOUR) == berlin(2025, 1, 20, 10)
    # Saturday: the clock waits for Monday 09:00.
    assert add_business_seconds(cal, berlin(2025, 1, 18, 12), 30 * 60) == berlin(2025, 1, 20, 9, 30)


def test_holidays_are_skipped():
    cal = Calendar.build(time_zone="Europe/Berlin", schedule=WEEKDAYS_9_TO_17, holidays=[dt.date(2025, 12, 25), dt.date(2025, 12, 26)])
    # Wednesday 24 Dec 16:00 + 2 h -> Monday 29 Dec 10:00 (Thu and Fri are holidays).
    assert add_business_seconds(cal, berlin(2025, 12, 24, 16), 2 * HOUR) == berlin(2025, 12, 29, 10)
    assert not is_open(cal, berlin(2025, 12, 25, 11))
    assert is_open(cal, berlin(2025, 12, 24, 11))


def test_the_calendar_counts_in_its_own_zone_whatever_the_zone_of_the_instant():
    cal = Calendar.build(time_zone="America/New_York", schedule=WEEKDAYS_9_TO_17)
    # 14:00 UTC on a January Monday is 09:00 in New York: opening time.
    start = dt.datetime(2025, 1, 13, 14, tzinfo=dt.UTC)
    assert is_open(cal, start)
    assert not is_open(cal, start - dt.timedelta(minutes=1))
    due = add_business_seconds(cal, start.astimezone(BERLIN), 8 * HOUR)
    assert due == dt.datetime(2025, 1, 13, 17, tzinfo=NEW_YORK)
    # A ticket at 18:00 Berlin time (12:00 New York) for a New York team: 5 h left that day.
    assert add_business_seconds(cal, berlin(2025, 1, 13, 18), 6 * HOUR) == dt.datetime(2025, 1, 14, 10, tzinfo=NEW_YORK)


def test_working_hours_stay_on_the_wall_clock_across_dst_changes():
    cal = Calendar.build(time_zone="Europe/Berlin", schedule=WEEKDAYS_9_TO_17)
    # Friday 28 March 2025 16:00 CET + 2 h -> Monday 31 March 10:00 CEST (clocks went forward on Sunday).
    due = add_business_seconds(cal, berlin(2025, 3, 28, 16), 2 * HOUR)
    assert due == berlin(2025, 3, 31, 10)
    assert due.astimezone(dt.UTC) == dt.datetime(2025, 3, 31, 8, tzinfo=dt.UTC)
    # Autumn: Friday 24 Oct 2025 16:00 CEST + 2 h -> Monday 27 Oct 10:00 CET (09:00 UTC).
    autumn = add_business_seconds(cal, berlin(2025, 10, 24, 16), 2 * HOUR)
    assert autumn.astimezone(dt.UTC) == dt.datetime(2025, 10, 27, 9, tzinfo=dt.UTC)


def test_a_round_the_clock_day_has_23_or_25_real_hours_on_dst_nights():
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    cal = Calendar.build(time_zone="Europe/Berlin", schedule=always)
    spring = business_seconds_between(cal, berlin(2025, 3, 30, 0), berlin(2025, 3, 31, 0))
    autumn = business_seconds_between(cal, berlin(2025, 10, 26, 0), berlin(2025, 10, 27, 0))
    assert (spring / HOUR, autumn / HOUR) == (23, 25)
    # And adding 24 h of working time across the spring night ends at 01:00 the next day.
    assert add_business_seconds(cal, berlin(2025, 3, 30, 0), 24 * HOUR) == berlin(2025, 3, 31, 1)


def test_a_night_shift_over_the_dst_gap_counts_real_time():
    # 01:00-04:00 on the spring-forward night in Berlin lasts two real hours (02:00-03:00 does not exist).
    cal = Calendar.build(time_zone="Europe/Berlin", schedule={"sun": [["01:00", "04:00"]]})
    assert business_seconds_between(cal, berlin(2025, 3, 30, 0), berlin(2025, 3, 30, 12)) == 2 * HOUR
    assert business_seconds_between(cal, berlin(2025, 4, 6, 0), berlin(2025, 4, 6, 12)) == 3 * HOUR


def test_seconds_between_skips_nights_weekends_and_holidays():
    cal = Calendar.build(time_zone="Europe/Berlin", schedule=WEEKDAYS_9_TO_17, holidays=[dt.date(2025, 1, 20)])
    # Friday 15:00 -> Tuesday 11:00 with Monday a holiday: 2 h + 2 h.
    assert business_seconds_between(cal, berlin(2025, 1, 17, 15), berlin(2025, 1, 21, 11)) == 4 * HOUR
    assert business_seconds_between(cal, berlin(2025, 1, 21, 11), berlin(2025, 1, 17, 15)) == 0


def test_split_days_and_round_the_clock_calendars():
    cal = Calendar.build(time_zone="UTC", schedule={"mon": [["13:00", "17:00"], ["08:00", "12:00"]]})
    monday = dt.datetime(2025, 1, 13, 11, tzinfo=dt.UTC)
    assert add_business_seconds(cal, monday, 2 * HOUR) == dt.datetime(2025, 1, 13, 14, tzinfo=dt.UTC)
    assert not is_open(cal, dt.datetime(2025, 1, 13, 12, 30, tzinfo=dt.UTC))
    assert add_business_seconds(None, monday, 90) == monday + dt.timedelta(seconds=90)
    assert is_open(None, monday)


def test_a_calendar_without_working_time_never_comes_due():
    cal = Calendar.build(time_zone="UTC", schedule={})
    assert add_business_seconds(cal, dt.datetime(2025, 1, 13, tzinfo=dt.UTC), 60) is None
    assert not is_open(cal, dt.datetime(2025, 1, 13, 10, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("time_zone", "schedule", "message"),
    [
        ("Mars/Olympus", WEEKDAYS_9_TO_17, "unknown time zone"),
        ("UTC", {"monday": [["09:00", "17:00"]]}, "unknown day"),
        ("UTC", {"mon": [["17:00", "09:00"]]}, "ends before it starts"),
        ("UTC", {"mon": [["9am", "17:00"]]}, "not a time"),
        ("UTC", {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}, "overlap"),
        ("UTC", [["09:00", "17:00"]], "must be an object"),
    ],
)
def test_bad_calendars_are_refused_with_a_clear_message(time_zone, schedule, message):
    with pytest.raises(CalendarError, match=message):
        Calendar.build(time_zone=time_zone, schedule=schedule)

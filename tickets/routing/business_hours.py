"""Business-hours arithmetic: pure functions over a weekly schedule, a time zone and holidays.

Intervals are wall-clock times in the calendar's zone, turned into real instants one day
at a time, so a day that loses or gains an hour to a DST change counts the hours that
really pass. ``None`` as a calendar means round the clock (24/7).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
# How far ahead to look for working time before deciding a calendar has none.
MAX_DAYS = 800


class CalendarError(ValueError):
    """A schedule or time zone that cannot be used; the message says what is wrong."""


def _parse_time(value: str) -> tuple[int, int]:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise CalendarError(f"{value!r} is not a time like 09:00 (00:00–24:00)")
    hours, minutes = value.split(":")
    return int(hours), int(minutes)


def validate_schedule(schedule: object) -> dict[int, tuple[tuple[tuple[int, int], tuple[int, int]], ...]]:
    """``{"mon": [["09:00", "17:00"]], ...}`` -> weekday -> sorted, non-overlapping intervals."""
    if not isinstance(schedule, Mapping):
        raise CalendarError('the schedule must be an object like {"mon": [["09:00", "17:00"]]}')
    unknown = set(schedule) - set(DAYS)
    if unknown:
        raise CalendarError(f"unknown day(s) {sorted(unknown)}; use {', '.join(DAYS)}")
    result: dict[int, tuple] = {}
    for index, day in enumerate(DAYS):
        intervals = []
        for pair in schedule.get(day) or []:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise CalendarError(f"{day}: each interval is a pair [start, end], got {pair!r}")
            start, end = _parse_time(pair[0]), _parse_time(pair[1])
            if end <= start:
                raise CalendarError(f"{day}: {pair[0]}–{pair[1]} ends before it starts")
            intervals.append((start, end))
        intervals.sort()
        for (_, prev_end), (next_start, _) in zip(intervals, intervals[1:]):
            if next_start < prev_end:
                raise CalendarError(f"{day}: intervals overlap")
        result[index] = tuple(intervals)
    return result


def validate_time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from None


@dataclass(frozen=True)
class Calendar:
    """A team's working time: weekly intervals in a zone, minus holidays (local dates)."""

    tz: ZoneInfo
    week: Mapping[int, tuple[tuple[tuple[int, int], tuple[int, int]], ...]]
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def build(cls, *, time_zone: str, schedule: object, holidays: Iterable[dt.date] = ()) -> "Calendar":
        return cls(tz=validate_time_zone(time_zone), week=validate_schedule(schedule), holidays=frozenset(holidays))

    @property
    def has_working_time(self) -> bool:
        return any(self.week.values())

    def _at(self, day: dt.date, hm: tuple[int, int]) -> dt.datetime:
        """The real instant (UTC) of a wall-clock time on a local date; 24:00 is the next midnight.

        A wall time skipped by a DST change (02:30 on the spring-forward night) resolves to
        the instant just after the gap, as zoneinfo's fold=0 does.
        """
        if hm == (24, 0):
            day, hm = day + dt.timedelta(days=1), (0, 0)
        local = dt.datetime(day.year, day.month, day.day, hm[0], hm[1], tzinfo=self.tz)
        # Normalise through UTC so a non-existent wall time maps onto a real instant.
        return local.astimezone(dt.UTC)

    def intervals_from(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working intervals (UTC) that end after ``start``, clipped to begin no earlier than it."""
        day = start.astimezone(self.tz).date() - dt.timedelta(days=1)  # an interval may cross midnight UTC
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for begin_hm, end_hm in self.week.get(day.weekday(), ()):
                    begin, end = self._at(day, begin_hm), self._at(day, end_hm)
                    if end <= start or end <= begin:
                        continue
                    yield max(begin, start), end
            day += dt.timedelta(days=1)


def is_open(calendar: Calendar | None, at: dt.datetime) -> bool:
    """Is ``at`` inside working time?"""
    if calendar is None:
        return True
    for begin, end in calendar.intervals_from(at):
        return begin <= at < end
    return False


def add_business_seconds(calendar: Calendar | None, start: dt.datetime, seconds: float) -> dt.datetime | None:
    """The instant when ``seconds`` of working time have passed since ``start``.

    Outside working time the clock waits for the next interval. ``None`` when the
    calendar has no working time at all (nothing can ever be due).
    """
    if calendar is None:
        return start + dt.timedelta(seconds=seconds)
    if not calendar.has_working_time:
        return None
    remaining = dt.timedelta(seconds=max(seconds, 0))
    for begin, end in calendar.intervals_from(start):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    return None


def business_seconds_between(calendar: Calendar | None, start: dt.datetime, end: dt.datetime) -> float:
    """Working seconds between two instants (0 when ``end`` is not after ``start``)."""
    if end <= start:
        return 0.0
    if calendar is None:
        return (end - start).total_seconds()
    total = dt.timedelta()
    for begin, finish in calendar.intervals_from(start):
        if begin >= end:
            break
        total += min(finish, end) - begin
    return total.total_seconds()

"""Working-day arithmetic the way the law counts periods (民法典 第二百零一条) — pure, no I/O.

* A day is a working day when the calendar says so (a 调休 make-up day is one even on a
  weekend; a public holiday is not one even on a weekday); otherwise Monday to Friday are.
* "Within N working days of day S": S itself is not counted; the deadline is the end
  (24:00, Asia/Shanghai) of the Nth working day after S — whether or not S is a working
  day. As an instant, that is 00:00 of the next calendar day; an act at or before it is
  on time.
* ``count_working_days(S, E)`` counts the working days D with S < D ≤ E, so that
  ``count_working_days(S, add_working_days(S, N).day) == N``.
* A year without an official schedule is *not loaded*: its days follow plain weekends,
  and every answer that looked at such a day says so (``complete`` is false and
  ``assumed_years`` names the years). An answer is never silently wrong.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_WORKING_DAYS = 3660
"""A bound on N, so a typo cannot make the server count for ever."""


class DayKind(enum.StrEnum):
    HOLIDAY = "holiday"
    """法定节假日 (a day off, weekend or not)."""
    MAKEUP_WORKDAY = "makeup_workday"
    """调休上班 (a weekend day that is worked)."""


@dataclass(frozen=True, slots=True)
class SpecialDay:
    kind: DayKind
    name: str


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """The official schedules that are loaded: their years and their special days."""

    loaded_years: Set[int] = frozenset()
    special_days: Mapping[date, SpecialDay] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DayAnswer:
    day: date
    working: bool
    kind: str
    """``holiday``, ``makeup_workday``, ``weekend`` or ``weekday``."""
    name: str | None
    loaded: bool
    """False when the day's year has no official schedule: the answer assumes plain weekends."""


@dataclass(frozen=True, slots=True)
class DeadlineAnswer:
    day: date
    """The Nth working day after the start."""
    deadline_at: datetime
    """The end of that day (24:00 Asia/Shanghai) as an instant."""
    complete: bool
    assumed_years: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CountAnswer:
    count: int
    complete: bool
    assumed_years: tuple[int, ...]


def end_of_day(day: date) -> datetime:
    """24:00 Asia/Shanghai of ``day``, i.e. 00:00 of the next day."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def describe(calendar: WorkCalendar, day: date) -> DayAnswer:
    special = calendar.special_days.get(day)
    loaded = day.year in calendar.loaded_years
    if special is not None and loaded:
        return DayAnswer(
            day, special.kind is DayKind.MAKEUP_WORKDAY, special.kind.value, special.name, True
        )
    weekend = day.weekday() >= 5
    return DayAnswer(day, not weekend, "weekend" if weekend else "weekday", None, loaded)


def is_working_day(calendar: WorkCalendar, day: date) -> bool:
    return describe(calendar, day).working


def add_working_days(calendar: WorkCalendar, start: date, n: int) -> DeadlineAnswer:
    """The end of the Nth working day after ``start`` (``start`` not counted); ``n`` ≥ 1."""
    if not 1 <= n <= MAX_WORKING_DAYS:
        raise ValueError(f"the number of working days must be between 1 and {MAX_WORKING_DAYS}")
    assumed: set[int] = set()
    day, found = start, 0
    while found < n:
        day += timedelta(days=1)
        answer = describe(calendar, day)
        if not answer.loaded:
            assumed.add(day.year)
        if answer.working:
            found += 1
    return DeadlineAnswer(day, end_of_day(day), not assumed, tuple(sorted(assumed)))


def count_working_days(calendar: WorkCalendar, start: date, end: date) -> CountAnswer:
    """The working days D with ``start`` < D ≤ ``end`` (0 when ``end`` ≤ ``start``)."""
    if (end - start).days > MAX_WORKING_DAYS * 2:
        raise ValueError("the period is too long")
    assumed: set[int] = set()
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        answer = describe(calendar, day)
        if not answer.loaded:
            assumed.add(day.year)
        count += answer.working
    return CountAnswer(count, not assumed, tuple(sorted(assumed)))

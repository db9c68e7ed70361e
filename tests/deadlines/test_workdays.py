"""Working-day arithmetic around every 2025 and 2026 holiday, make-up days, year ends, unloaded years."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.deadlines.calendars import SHIPPED_YEARS, shipped_schedule
from backend.domain.deadlines.workdays import (
    SHANGHAI,
    WorkCalendar,
    add_working_days,
    count_working_days,
    describe,
)


def _shipped() -> WorkCalendar:
    days = {}
    for year in SHIPPED_YEARS:
        days.update(shipped_schedule(year).days)
    return WorkCalendar(loaded_years=frozenset(SHIPPED_YEARS), special_days=days)


CAL = _shipped()
D = date.fromisoformat


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # 2025 元旦
        ("2024-12-31", 1, "2025-01-02"),
        ("2024-12-30", 2, "2025-01-02"),
        # 2025 春节: off 01-28..02-04, make-up Sun 01-26 and Sat 02-08
        ("2025-01-24", 1, "2025-01-26"),
        ("2025-01-26", 1, "2025-01-27"),  # starting on a make-up weekend day
        ("2025-01-27", 1, "2025-02-05"),
        ("2025-01-27", 4, "2025-02-08"),
        ("2025-02-08", 1, "2025-02-10"),  # starting on a make-up Saturday
        # 2025 清明 04-04..04-06
        ("2025-04-03", 1, "2025-04-07"),
        # 2025 劳动节 05-01..05-05, make-up Sun 04-27
        ("2025-04-25", 1, "2025-04-27"),
        ("2025-04-30", 1, "2025-05-06"),
        # 2025 端午 05-31..06-02
        ("2025-05-30", 1, "2025-06-03"),
        # 2025 国庆·中秋 10-01..10-08, make-up Sun 09-28 and Sat 10-11
        ("2025-09-26", 1, "2025-09-28"),
        ("2025-09-30", 1, "2025-10-09"),
        ("2025-09-30", 3, "2025-10-11"),
        ("2025-09-29", 20, "2025-11-03"),
        # 2026 元旦 01-01..01-03, make-up Sun 01-04 — across the year end
        ("2025-12-31", 1, "2026-01-04"),
        ("2025-12-30", 2, "2026-01-04"),
        ("2025-12-31", 2, "2026-01-05"),
        # 2026 春节 02-15..02-23, make-up Sat 02-14 and Sat 02-28
        ("2026-02-13", 1, "2026-02-14"),
        ("2026-02-14", 1, "2026-02-24"),
        ("2026-02-24", 4, "2026-02-28"),
        # 2026 清明 04-04..04-06
        ("2026-04-03", 1, "2026-04-07"),
        # 2026 劳动节 05-01..05-05, make-up Sat 05-09
        ("2026-04-30", 1, "2026-05-06"),
        ("2026-05-08", 1, "2026-05-09"),
        # 2026 端午 06-19..06-21
        ("2026-06-18", 1, "2026-06-22"),
        # 2026 中秋 09-25..09-27, make-up Sun 09-20
        ("2026-09-18", 1, "2026-09-20"),
        ("2026-09-24", 1, "2026-09-28"),
        # 2026 国庆 10-01..10-07, make-up Sat 10-10
        ("2026-09-30", 1, "2026-10-08"),
        ("2026-09-30", 3, "2026-10-10"),
        ("2026-09-28", 20, "2026-10-30"),
        # a start on a holiday is not counted either
        ("2026-10-03", 1, "2026-10-08"),
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    answer = add_working_days(CAL, D(start), n)
    assert answer.day == D(expected)
    assert answer.complete and answer.assumed_years == ()
    assert answer.deadline_at == datetime.combine(
        D(expected) + timedelta(days=1), time(0), SHANGHAI
    )
    assert count_working_days(CAL, D(start), D(expected)).count == n


def test_deadline_is_the_end_of_the_day_in_shanghai() -> None:
    answer = add_working_days(CAL, D("2025-09-29"), 20)
    assert answer.deadline_at.isoformat() == "2025-11-04T00:00:00+08:00"


def test_into_a_year_that_is_not_loaded() -> None:
    answer = add_working_days(CAL, D("2026-12-30"), 3)
    assert answer.day == D("2027-01-04")  # 2027-01-01 counted as a plain Friday
    assert not answer.complete and answer.assumed_years == (2027,)
    counted = count_working_days(CAL, D("2026-12-30"), D("2027-01-04"))
    assert (counted.count, counted.complete, counted.assumed_years) == (3, False, (2027,))
    inside = add_working_days(CAL, D("2026-12-01"), 3)
    assert inside.complete  # never touched 2027


@pytest.mark.parametrize(
    ("day", "working", "kind", "loaded"),
    [
        ("2026-02-14", True, "makeup_workday", True),
        ("2026-02-16", False, "holiday", True),
        ("2025-10-06", False, "holiday", True),
        ("2026-03-07", False, "weekend", True),
        ("2026-03-09", True, "weekday", True),
        ("2027-01-01", True, "weekday", False),
        ("2019-10-01", True, "weekday", False),
    ],
)
def test_describe(day: str, working: bool, kind: str, loaded: bool) -> None:
    answer = describe(CAL, D(day))
    assert (answer.working, answer.kind, answer.loaded) == (working, kind, loaded)


def test_counting_edges() -> None:
    assert count_working_days(CAL, D("2026-03-09"), D("2026-03-09")).count == 0
    assert count_working_days(CAL, D("2026-03-10"), D("2026-03-09")).count == 0
    assert count_working_days(CAL, D("2026-02-13"), D("2026-02-24")).count == 2
    with pytest.raises(ValueError, match="between 1"):
        add_working_days(CAL, D("2026-03-09"), 0)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=date(2019, 6, 1), max_value=date(2027, 6, 30)),
    n=st.integers(min_value=1, max_value=60),
)
def test_count_inverts_add(start: date, n: int) -> None:
    answer = add_working_days(CAL, start, n)
    assert count_working_days(CAL, start, answer.day).count == n
    assert describe(CAL, answer.day).working
    assert count_working_days(CAL, start, answer.day - timedelta(days=1)).count == n - 1

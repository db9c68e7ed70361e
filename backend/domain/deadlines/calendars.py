"""The calendar in the database: the shipped official years, operators' loads, and reading it."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.db.models import CalendarDay, CalendarYear
from sync import canonical_digest

from .calendar_file import YearSchedule, parse
from .workdays import DayKind, SpecialDay, WorkCalendar

SHIPPED_YEARS = range(2020, 2027)


def shipped_schedule(year: int) -> YearSchedule:
    """The official schedule of ``year`` shipped with the software (``official/{year}.txt``)."""
    text = (
        resources.files("backend.domain.deadlines")
        .joinpath("official", f"{year}.txt")
        .read_text("utf-8")
    )
    return parse(text)


def schedule_digest(schedule: YearSchedule) -> str:
    return canonical_digest(
        {
            "year": schedule.year,
            "days": [
                [d.isoformat(), s.kind.value, s.name] for d, s in sorted(schedule.days.items())
            ],
        }
    )


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """Every loaded year and its special days (a few dozen rows a year)."""
    years = set((await session.scalars(select(CalendarYear.year))).all())
    days = {
        row.day: SpecialDay(DayKind(row.kind), row.name)
        for row in (await session.scalars(select(CalendarDay))).all()
    }
    return WorkCalendar(loaded_years=frozenset(years), special_days=days)


async def schedule_in_db(session: AsyncSession, year: int) -> YearSchedule | None:
    row = await session.get(CalendarYear, year)
    if row is None:
        return None
    days = (await session.scalars(select(CalendarDay).where(CalendarDay.year == year))).all()
    return YearSchedule(
        year, row.source, {d.day: SpecialDay(DayKind(d.kind), d.name) for d in days}
    )


async def replace_year(
    session: AsyncSession,
    schedule: YearSchedule,
    *,
    clock: Clock,
    origin: str,
    by_user_id: object | None,
) -> None:
    """Put ``schedule`` in place of whatever the database holds for its year."""
    await session.execute(delete(CalendarDay).where(CalendarDay.year == schedule.year))
    row = await session.get(CalendarYear, schedule.year)
    if row is None:
        row = CalendarYear(year=schedule.year)
        session.add(row)
    row.source = schedule.source
    row.origin = origin
    row.digest = schedule_digest(schedule)
    row.loaded_at = clock.now()
    row.loaded_by_id = by_user_id  # type: ignore[assignment]
    await session.flush()
    session.add_all(
        CalendarDay(day=day, year=schedule.year, kind=special.kind.value, name=special.name)
        for day, special in sorted(schedule.days.items())
    )
    await session.flush()

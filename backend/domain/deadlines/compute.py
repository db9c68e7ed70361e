"""A task's deadlines from its facts, its plan and the calendar — pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .config import DeadlineConfig
from .workdays import SHANGHAI, WorkCalendar, add_working_days, end_of_day


@dataclass(frozen=True, slots=True)
class Deadlines:
    due_at: datetime
    entry_deadline_at: datetime | None
    publication_deadline_at: datetime | None
    calendar_complete: bool
    assumed_years: tuple[int, ...]


def compute(
    *,
    due_on: date,
    plan_ends_on: date,
    checked_at: datetime | None,
    config: DeadlineConfig,
    calendar: WorkCalendar,
) -> Deadlines:
    plan_end = end_of_day(plan_ends_on)
    due_at = min(end_of_day(due_on), plan_end)
    if checked_at is None:
        return Deadlines(due_at, None, None, True, ())
    entry = min(checked_at + timedelta(hours=config.entry_window_hours), plan_end)
    publication = add_working_days(
        calendar, checked_at.astimezone(SHANGHAI).date(), config.publication_working_days
    )
    return Deadlines(
        due_at, entry, publication.deadline_at, publication.complete, publication.assumed_years
    )

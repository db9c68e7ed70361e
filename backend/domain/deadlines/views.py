"""What tasks carry to their readers: deadline instants (with +08:00 offsets) and the light."""

from __future__ import annotations

from datetime import datetime

import msgspec

from backend.db.models import Plan, Task

from .config import config_of
from .lights import Light, LightFacts, light_of
from .workdays import SHANGHAI


class DeadlinesOut(msgspec.Struct, kw_only=True):
    due_at: datetime | None
    """The end of the due date (24:00 Asia/Shanghai), at most the plan's end."""
    entry_deadline_at: datetime | None
    """48 clock hours after the check (``checked_at``), at most the plan's end."""
    publication_deadline_at: datetime | None
    """The end of the 20th working day after the check."""
    calendar_complete: bool
    """False when a deadline was counted through a year with no official schedule (plain weekends assumed)."""
    assumed_years: list[int]
    warning: str | None


def local(at: datetime | None) -> datetime | None:
    return at.astimezone(SHANGHAI) if at is not None else None


def calendar_warning(assumed_years: list[int] | tuple[int, ...]) -> str | None:
    if not assumed_years:
        return None
    years = "、".join(str(y) for y in assumed_years)
    return f"{years}年的官方节假日安排尚未载入，期限按普通周末推算，可能不准确"


def deadlines_of(task: Task) -> DeadlinesOut:
    years = list(task.deadlines_assumed_years or [])
    return DeadlinesOut(
        due_at=local(task.due_at),
        entry_deadline_at=local(task.entry_deadline_at),
        publication_deadline_at=local(task.publication_deadline_at),
        calendar_complete=task.deadlines_calendar_complete,
        assumed_years=years,
        warning=calendar_warning(years),
    )


def light_for(task: Task, plan: Plan, now: datetime) -> Light:
    assert task.due_at is not None, "every task has its due deadline from the moment it is issued"
    found = light_of(
        LightFacts(
            status=task.status.value,
            due_at=task.due_at,
            entry_deadline_at=task.entry_deadline_at,
            publication_deadline_at=task.publication_deadline_at,
            checked_in_at=task.checked_in_at,
            checked_at=task.checked_at,
            results_entered_at=task.results_entered_at,
            published_at=task.published_at,
        ),
        now,
        config_of(plan.deadline_config),
    )
    return msgspec.structs.replace(found, deadline_at=local(found.deadline_at))

"""Keeping every task's deadlines right: on issue, when its facts change, when the calendar changes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Plan, Task
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.sync.store import lock_counter
from backend.errors import InvalidCalendarFile

from .calendar_file import CalendarFileError, parse
from .calendars import load_calendar, replace_year, schedule_digest, schedule_in_db
from .compute import Deadlines, compute
from .config import config_of
from .workdays import DayKind, WorkCalendar

EMPTY_CALENDAR = WorkCalendar()


def apply(task: Task, plan: Plan, calendar: WorkCalendar) -> bool:
    """Set ``task``'s deadlines from its facts; return whether any of them moved."""
    found: Deadlines = compute(
        due_on=task.due_on,
        plan_ends_on=plan.ends_on,
        checked_at=task.checked_at,
        config=config_of(plan.deadline_config),
        calendar=calendar,
    )
    before = (
        task.due_at,
        task.entry_deadline_at,
        task.publication_deadline_at,
        task.deadlines_calendar_complete,
        list(task.deadlines_assumed_years or []),
    )
    task.due_at = found.due_at
    task.entry_deadline_at = found.entry_deadline_at
    task.publication_deadline_at = found.publication_deadline_at
    task.deadlines_calendar_complete = found.calendar_complete
    task.deadlines_assumed_years = list(found.assumed_years)
    after = (
        task.due_at,
        task.entry_deadline_at,
        task.publication_deadline_at,
        task.deadlines_calendar_complete,
        list(task.deadlines_assumed_years),
    )
    return before != after


class CalendarLoaded(msgspec.Struct, kw_only=True):
    year: int
    source: str
    holidays: int
    makeup_workdays: int
    previous_digest: str | None
    digest: str
    changed: bool
    tasks_moved: int


class DeadlineService:
    def __init__(self, session: AsyncSession, audit: Audit) -> None:
        self._session = session
        self._audit = audit

    async def recompute(
        self, task_ids: Sequence[uuid.UUID] | None = None, *, announce: bool = True
    ) -> int:
        """Recompute the deadlines of ``task_ids`` (default: every unpublished checked task); count the moved.

        With ``announce`` a task whose deadlines moved gets a new change sequence, so phones pull it
        (a push, which numbers its own changes, passes ``announce=False``).
        """
        # the counter first, before any task row: every writer of synced data takes them in
        # this order (a push holds the counter while it updates tasks), so none waits in a cycle
        meta = await lock_counter(self._session) if announce else None
        calendar = await load_calendar(self._session)
        query = select(Task, Plan).join(Plan, Plan.id == Task.plan_id)
        if task_ids is None:
            query = query.where(Task.checked_at.is_not(None), Task.published_at.is_(None))
        else:
            query = query.where(Task.id.in_(list(task_ids)))
        moved: list[Task] = [
            task
            for task, plan in (await self._session.execute(query)).all()
            if apply(task, plan, calendar)
        ]
        if meta is not None:
            for task in moved:
                meta.seq += 1
                task.sync_version = meta.seq
        await self._session.flush()
        return len(moved)

    async def load_year(self, text: str) -> CalendarLoaded:
        """An operator loads or corrects one year's official schedule; every affected deadline moves."""
        try:
            schedule = parse(text)
        except CalendarFileError as exc:
            raise InvalidCalendarFile(str(exc), line=exc.line, problem=exc.problem) from exc
        previous = await schedule_in_db(self._session, schedule.year)
        previous_digest = schedule_digest(previous) if previous else None
        digest = schedule_digest(schedule)
        await replace_year(
            self._session,
            schedule,
            clock=self._audit.clock,
            origin="operator",
            by_user_id=self._audit.actor.user_id,
        )
        moved = await self.recompute()
        self._audit.record(
            AuditAction.CALENDAR_CHANGED,
            subject_kind="calendar_year",
            subject_id=schedule.year,
            before={"year": schedule.year, "digest": previous_digest} if previous_digest else None,
            after={"year": schedule.year, "digest": digest},
            details={
                "year": schedule.year,
                "source": schedule.source,
                "tasks_moved": moved,
                "days": len(schedule.days),
            },
        )
        return CalendarLoaded(
            year=schedule.year,
            source=schedule.source,
            holidays=sum(s.kind is DayKind.HOLIDAY for s in schedule.days.values()),
            makeup_workdays=sum(s.kind is DayKind.MAKEUP_WORKDAY for s in schedule.days.values()),
            previous_digest=previous_digest,
            digest=digest,
            changed=previous_digest != digest,
            tasks_moved=moved,
        )

"""The working-day calendar, deadline arithmetic and lights, and the lead's board."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from backend.db.models import CalendarDay, CalendarYear, Task, TaskStatus, User
from backend.domain.tasks.queries import led_team_ids
from backend.errors import InvalidInput, NotFound
from backend.http.deps import AuditUnit, Caller, Ctx, DbSession
from backend.http.security import requires_operator, requires_team_lead

from .calendars import load_calendar, schedule_in_db
from .compute import compute
from .config import DeadlineConfig, config_of
from .lights import Light, LightFacts, light_of
from .services import CalendarLoaded, DeadlineService
from .views import DeadlinesOut, calendar_warning, deadlines_of, light_for, local
from .workdays import MAX_WORKING_DAYS, add_working_days, count_working_days, describe

Year = Annotated[int, PathParameter(ge=1900, le=2200)]


class CalendarYearOut(msgspec.Struct, kw_only=True):
    year: int
    source: str
    origin: str
    digest: str
    loaded_at: datetime
    holidays: int
    makeup_workdays: int


class CalendarDayOut(msgspec.Struct, kw_only=True):
    date: date
    kind: str
    name: str


class CalendarYearDetail(CalendarYearOut, kw_only=True):
    days: list[CalendarDayOut]
    text: str
    """The schedule in the calendar file format."""


class CalendarFileIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=64 * 1024)]
    """The whole calendar file (see docs/calendar.md)."""


class DayOut(msgspec.Struct, kw_only=True):
    date: date
    working: bool
    kind: str
    name: str | None
    calendar_loaded: bool
    warning: str | None


class AddOut(msgspec.Struct, kw_only=True):
    start: date
    working_days: int
    date: date
    """The Nth working day after ``start`` (``start`` not counted)."""
    deadline_at: datetime
    """The end of that day, 24:00 Asia/Shanghai."""
    calendar_complete: bool
    assumed_years: list[int]
    warning: str | None


class CountOut(msgspec.Struct, kw_only=True):
    start: date
    end: date
    working_days: int
    """Working days D with start < D ≤ end."""
    calendar_complete: bool
    assumed_years: list[int]
    warning: str | None


class EvaluateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A task's facts, to compute its deadlines and light as the server does for stored tasks."""

    status: TaskStatus = TaskStatus.IN_PROGRESS
    due_on: date
    plan_ends_on: date
    checked_in_at: datetime | None = None
    checked_at: datetime | None = None
    results_entered_at: datetime | None = None
    published_at: datetime | None = None
    now: datetime | None = None
    """Default: the server's clock."""
    config: dict[str, Any] | None = None
    """Overrides of the plan's time limits (as a plan's ``deadline_config``)."""


class EvaluateOut(msgspec.Struct, kw_only=True):
    deadlines: DeadlinesOut
    light: Light
    config: DeadlineConfig


class BoardTask(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    name: str
    status: str
    object_name: str
    due_on: date
    light: Light
    deadlines: DeadlinesOut
    inspector_ids: list[uuid.UUID]


class InspectorCounts(msgspec.Struct, kw_only=True):
    inspector_id: uuid.UUID
    display_name: str
    red: int
    yellow: int
    green: int


class Board(msgspec.Struct, kw_only=True):
    counts: dict[str, int]
    """Tasks per light: red, yellow, green."""
    by_inspector: list[InspectorCounts]
    tasks: list[BoardTask]
    """Most urgent first: red, then yellow, then green; sooner deadlines first."""
    total: int
    limit: int
    offset: int


def _aware(at: datetime | None, name: str) -> datetime | None:
    if at is not None and at.tzinfo is None:
        raise InvalidInput(
            f"{name} 必须是带时区偏移的时间（例如 2026-10-01T08:00:00+08:00）", field=name
        )
    return at


class CalendarController(Controller):
    path = "/api/v1/calendar"
    tags = ["calendar"]

    @get("/years", operation_id="listCalendarYears")
    async def years(self, db_session: DbSession) -> list[CalendarYearOut]:
        """The years whose official holiday schedule is loaded; any other year counts plain weekends."""
        counts = {
            (year, kind): n
            for year, kind, n in await db_session.execute(
                select(CalendarDay.year, CalendarDay.kind, func.count()).group_by(
                    CalendarDay.year, CalendarDay.kind
                )
            )
        }
        rows = (await db_session.scalars(select(CalendarYear).order_by(CalendarYear.year))).all()
        return [
            CalendarYearOut(
                year=r.year,
                source=r.source,
                origin=r.origin,
                digest=r.digest,
                loaded_at=r.loaded_at,
                holidays=counts.get((r.year, "holiday"), 0),
                makeup_workdays=counts.get((r.year, "makeup_workday"), 0),
            )
            for r in rows
        ]

    @get("/years/{year:int}", operation_id="getCalendarYear")
    async def year(self, year: Year, db_session: DbSession) -> CalendarYearDetail:
        """One loaded year's schedule, as days and as the calendar file."""
        row = await db_session.get(CalendarYear, year)
        schedule = await schedule_in_db(db_session, year)
        if row is None or schedule is None:
            raise NotFound(
                f"{year}年的官方节假日安排尚未载入：该年按普通周末计算", year=year, loaded=False
            )
        days = [
            CalendarDayOut(date=d, kind=s.kind.value, name=s.name)
            for d, s in sorted(schedule.days.items())
        ]
        return CalendarYearDetail(
            year=row.year,
            source=row.source,
            origin=row.origin,
            digest=row.digest,
            loaded_at=row.loaded_at,
            holidays=sum(d.kind == "holiday" for d in days),
            makeup_workdays=sum(d.kind == "makeup_workday" for d in days),
            days=days,
            text=schedule.to_text(),
        )

    @put("/years/{year:int}", operation_id="loadCalendarYear", guards=[requires_operator])
    async def load(
        self,
        year: FromPath[int],
        data: JSONBody[CalendarFileIn],
        db_session: DbSession,
        audit: AuditUnit,
    ) -> CalendarLoaded:
        """Load or correct one year's official schedule (operators); every affected deadline moves."""
        first = next((ln for ln in data.text.splitlines() if ln.strip().startswith("year:")), "")
        if first.split(":", 1)[-1].strip() != str(year):
            raise InvalidInput(f"文件中的 year: 与地址中的年份 {year} 不一致", year=year)
        return await DeadlineService(db_session, audit).load_year(data.text)

    @get("/days/{day:date}", operation_id="getCalendarDay")
    async def day(self, day: FromPath[date], db_session: DbSession) -> DayOut:
        """Whether a day is a working day, and why."""
        answer = describe(await load_calendar(db_session), day)
        return DayOut(
            date=day,
            working=answer.working,
            kind=answer.kind,
            name=answer.name,
            calendar_loaded=answer.loaded,
            warning=None if answer.loaded else calendar_warning([day.year]),
        )

    @get("/add-working-days", operation_id="addWorkingDays")
    async def add(
        self,
        db_session: DbSession,
        start: Annotated[
            date, QueryParameter(description="The day the period runs from (not counted)")
        ],
        days: Annotated[
            int, QueryParameter(ge=1, le=MAX_WORKING_DAYS, description="N working days")
        ],
    ) -> AddOut:
        """The end of the Nth working day after ``start``, as the law counts periods."""
        answer = add_working_days(await load_calendar(db_session), start, days)
        return AddOut(
            start=start,
            working_days=days,
            date=answer.day,
            deadline_at=answer.deadline_at,
            calendar_complete=answer.complete,
            assumed_years=list(answer.assumed_years),
            warning=calendar_warning(answer.assumed_years),
        )

    @get("/count-working-days", operation_id="countWorkingDays")
    async def count(
        self,
        db_session: DbSession,
        start: Annotated[date, QueryParameter(description="Not counted")],
        end: Annotated[date, QueryParameter(description="Counted")],
    ) -> CountOut:
        """The number of working days after ``start`` up to and including ``end``."""
        try:
            answer = count_working_days(await load_calendar(db_session), start, end)
        except ValueError as exc:
            raise InvalidInput("期间过长", start=start.isoformat(), end=end.isoformat()) from exc
        return CountOut(
            start=start,
            end=end,
            working_days=answer.count,
            calendar_complete=answer.complete,
            assumed_years=list(answer.assumed_years),
            warning=calendar_warning(answer.assumed_years),
        )


class DeadlineController(Controller):
    path = "/api/v1/deadlines"
    tags = ["calendar"]

    @post("/evaluate", operation_id="evaluateDeadlines", status_code=200)
    async def evaluate(
        self, data: JSONBody[EvaluateIn], ctx: Ctx, db_session: DbSession
    ) -> EvaluateOut:
        """A task's deadlines and light from its facts (the same computation as for stored tasks)."""
        for name in ("checked_in_at", "checked_at", "results_entered_at", "published_at", "now"):
            _aware(getattr(data, name), name)
        try:
            config = config_of(data.config)
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"config 无效：{exc}") from exc
        found = compute(
            due_on=data.due_on,
            plan_ends_on=data.plan_ends_on,
            checked_at=data.checked_at,
            config=config,
            calendar=await load_calendar(db_session),
        )
        light = light_of(
            LightFacts(
                status=data.status.value,
                due_at=found.due_at,
                entry_deadline_at=found.entry_deadline_at,
                publication_deadline_at=found.publication_deadline_at,
                checked_in_at=data.checked_in_at,
                checked_at=data.checked_at,
                results_entered_at=data.results_entered_at,
                published_at=data.published_at,
            ),
            data.now or ctx.clock.now(),
            config,
        )
        deadlines = DeadlinesOut(
            due_at=local(found.due_at),
            entry_deadline_at=local(found.entry_deadline_at),
            publication_deadline_at=local(found.publication_deadline_at),
            calendar_complete=found.calendar_complete,
            assumed_years=list(found.assumed_years),
            warning=calendar_warning(found.assumed_years),
        )
        return EvaluateOut(
            deadlines=deadlines,
            light=msgspec.structs.replace(light, deadline_at=local(light.deadline_at)),
            config=config,
        )


_URGENCY = {"red": 0, "yellow": 1, "green": 2, "none": 3}


class TeamBoardController(Controller):
    path = "/api/v1/team/board"
    tags = ["team"]
    guards = [requires_team_lead]

    @get("/", operation_id="getTeamBoard")
    async def board(
        self,
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> Board:
        """My teams' unfinished tasks with their lights, most urgent first, with counts per light and inspector."""
        now = ctx.clock.now()
        tasks = (
            await db_session.scalars(
                select(Task)
                .where(
                    Task.team_id.in_(led_team_ids(principal.user_id)),
                    Task.status.not_in([TaskStatus.PUBLISHED, TaskStatus.WITHDRAWN]),
                )
                .options(
                    selectinload(Task.plan),
                    selectinload(Task.object),
                    selectinload(Task.assignments),
                )
            )
        ).all()
        entries = [(task, light_for(task, task.plan, now)) for task in tasks]
        entries.sort(
            key=lambda e: (_URGENCY[e[1].color], e[1].deadline_at or e[0].created_at, e[0].code)
        )
        counts = Counter(light.color for _, light in entries)
        per: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
        for task, light in entries:
            for assignment in task.assignments:
                per[assignment.user_id][light.color] += 1
        names = dict(
            (
                await db_session.execute(
                    select(User.id, User.display_name).where(User.id.in_(list(per)))
                )
            )
            .tuples()
            .all()
        )
        by_inspector = sorted(
            (
                InspectorCounts(
                    inspector_id=uid,
                    display_name=names.get(uid, ""),
                    red=c["red"],
                    yellow=c["yellow"],
                    green=c["green"],
                )
                for uid, c in per.items()
            ),
            key=lambda i: (-i.red, -i.yellow, i.display_name),
        )
        page = entries[offset : offset + limit]
        return Board(
            counts={color: counts.get(color, 0) for color in ("red", "yellow", "green")},
            by_inspector=by_inspector,
            tasks=[
                BoardTask(
                    id=task.id,
                    code=task.code,
                    name=task.name,
                    status=task.status.value,
                    object_name=task.object.name,
                    due_on=task.due_on,
                    light=light,
                    deadlines=deadlines_of(task),
                    inspector_ids=[a.user_id for a in task.assignments],
                )
                for task, light in page
            ],
            total=len(entries),
            limit=limit,
            offset=offset,
        )


__all__ = ["CalendarController", "DeadlineController", "TeamBoardController"]

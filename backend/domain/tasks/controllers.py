"""Tasks: an inspector's own, a team lead's team's, and issuing a task."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import select

from backend.db.models import Task, TaskStatus, Team
from backend.errors import NotFound
from backend.http.deps import AuditUnit, Caller, Ctx, DbSession
from backend.http.security import requires_inspector, requires_team_lead

from .queries import TaskFilter, assigned_task_ids, get_task, list_tasks, visible_to
from .reassignment import Reassignment, reassign
from .schemas import TaskDetail, TaskPage
from .services import NewTask, TaskService

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size")]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000, description="Rows to skip")]
Statuses = Annotated[
    list[TaskStatus] | None, QueryParameter(description="Filter by status (repeatable)")
]
DueFrom = Annotated[date | None, QueryParameter(description="Due on or after (YYYY-MM-DD)")]
DueTo = Annotated[date | None, QueryParameter(description="Due on or before (YYYY-MM-DD)")]


class TaskController(Controller):
    path = "/api/v1/tasks"
    tags = ["tasks"]
    guards = [requires_inspector]

    @get("/", operation_id="listMyTasks")
    async def list_mine(
        self,
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
        status: Statuses = None,
        due_from: DueFrom = None,
        due_to: DueTo = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> TaskPage:
        """The tasks assigned to me, by due date; paged and filtered by status and due date."""
        flt = TaskFilter(
            statuses=status or (), due_from=due_from, due_to=due_to, limit=limit, offset=offset
        )
        scope = Task.id.in_(assigned_task_ids(principal.user_id))
        return await list_tasks(db_session, scope, flt, now=ctx.clock.now())

    @get("/{task_id:uuid}", operation_id="getTask")
    async def get_one(
        self, task_id: FromPath[uuid.UUID], principal: Caller, ctx: Ctx, db_session: DbSession
    ) -> TaskDetail:
        """One task with its object, items, checklists, inspectors, history and the code tables."""
        return await get_task(db_session, principal, task_id, now=ctx.clock.now())


class TeamAssignmentController(Controller):
    path = "/api/v1/team/tasks/{task_id:uuid}/assignment"
    tags = ["team"]
    guards = [requires_team_lead]

    @put("/", operation_id="reassignTask")
    async def reassign(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[Reassignment],
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> TaskDetail:
        """Give a task of my team to other qualified inspectors, with a reason; the previous ones' phones are told."""
        await reassign(db_session, audit, lead_id=principal.user_id, task_id=task_id, change=data)
        return await get_task(db_session, principal, task_id, now=ctx.clock.now())


class TeamTaskController(Controller):
    path = "/api/v1/team/tasks"
    tags = ["team"]
    guards = [requires_team_lead]

    @get("/", operation_id="listTeamTasks")
    async def list_team(
        self,
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
        status: Statuses = None,
        due_from: DueFrom = None,
        due_to: DueTo = None,
        inspector_id: Annotated[
            uuid.UUID | None, QueryParameter(description="Only tasks of this inspector")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> TaskPage:
        """The tasks of the teams I lead, by due date; paged and filtered."""
        flt = TaskFilter(
            statuses=status or (), due_from=due_from, due_to=due_to, limit=limit, offset=offset
        )
        scope = visible_to(principal)
        if inspector_id is not None:
            scope = scope & Task.id.in_(assigned_task_ids(inspector_id))
        return await list_tasks(db_session, scope, flt, now=ctx.clock.now())

    @post("/", operation_id="issueTask")
    async def issue(
        self,
        data: JSONBody[NewTask],
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
        audit: AuditUnit,
        team_id: Annotated[
            uuid.UUID | None, QueryParameter(description="Needed only when I lead several teams")
        ] = None,
    ) -> TaskDetail:
        """Issue a task to my team: listed items only, ≥2 qualified inspectors, no conflicts of interest."""
        led = (
            await db_session.scalars(select(Team.id).where(Team.lead_id == principal.user_id))
        ).all()
        chosen = team_id if team_id is not None else (led[0] if len(led) == 1 else None)
        if chosen is None or chosen not in led:
            raise NotFound("请指定您领导的检查组", team_id=str(team_id) if team_id else None)
        task = await TaskService(db_session, ctx.clock, audit).create_task(
            data, team_id=chosen, by_user_id=principal.user_id
        )
        return await get_task(db_session, principal, task.id, now=ctx.clock.now())


__all__ = ["TaskController", "TeamTaskController"]

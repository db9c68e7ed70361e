"""Reading the trail: a task's (its inspectors and their lead), a team's (the lead), all (operators)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.exceptions import ValidationException
from litestar.params import FromPath, QueryParameter
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import AuditEvent, Task, User
from backend.db.paging import page_of
from backend.domain.tasks.queries import ensure_visible, led_team_ids
from backend.http.deps import Caller, DbSession
from backend.http.security import requires_inspector, requires_operator, requires_team_lead

from .actions import AuditAction


class ActorOut(msgspec.Struct, kw_only=True):
    user_id: uuid.UUID | None
    device_id: uuid.UUID | None
    role: str


class SubjectOut(msgspec.Struct, kw_only=True):
    kind: str
    id: str


class AuditEventOut(msgspec.Struct, kw_only=True):
    seq: int
    at: datetime
    actor: ActorOut
    action: str
    subject: SubjectOut
    task_id: uuid.UUID | None
    request_id: str | None
    reason: str | None
    before_digest: str | None
    after_digest: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[AuditEventOut]
    total: int
    limit: int
    offset: int


Since = Annotated[
    datetime | None, QueryParameter(description="Events at or after this instant (RFC 3339)")
]
Until = Annotated[
    datetime | None, QueryParameter(description="Events before this instant (RFC 3339)")
]
ActorId = Annotated[uuid.UUID | None, QueryParameter(description="Only events by this user")]
Actions = Annotated[
    list[AuditAction] | None, QueryParameter(description="Only these actions (repeatable)")
]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]


def _out(e: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        seq=e.seq,
        at=e.at,
        actor=ActorOut(user_id=e.actor_user_id, device_id=e.actor_device_id, role=e.actor_role),
        action=e.action,
        subject=SubjectOut(kind=e.subject_kind, id=e.subject_id),
        task_id=e.task_id,
        request_id=e.request_id,
        reason=e.reason,
        before_digest=e.before_digest,
        after_digest=e.after_digest,
        details=e.details,
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


async def _page(
    session: AsyncSession,
    scope: ColumnElement[bool],
    *,
    since: datetime | None,
    until: datetime | None,
    actor_id: uuid.UUID | None,
    action: list[AuditAction] | None,
    limit: int,
    offset: int,
) -> AuditPage:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValidationException(f"{name} 必须带时区偏移（例如 2026-11-30T08:00:00+08:00）")
    where = [scope]
    if since is not None:
        where.append(AuditEvent.at >= since)
    if until is not None:
        where.append(AuditEvent.at < until)
    if actor_id is not None:
        where.append(AuditEvent.actor_user_id == actor_id)
    if action:
        where.append(AuditEvent.action.in_([a.value for a in action]))
    total, rows = await page_of(
        session, AuditEvent, where, order_by=[AuditEvent.seq.desc()], limit=limit, offset=offset
    )
    return AuditPage(items=[_out(e) for e in rows], total=total, limit=limit, offset=offset)


class TaskAuditController(Controller):
    path = "/api/v1/tasks/{task_id:uuid}/audit"
    tags = ["audit"]
    guards = [requires_inspector]

    @get("/", operation_id="getTaskAuditTrail")
    async def task_trail(
        self,
        task_id: FromPath[uuid.UUID],
        principal: Caller,
        db_session: DbSession,
        since: Since = None,
        until: Until = None,
        actor_id: ActorId = None,
        action: Actions = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> AuditPage:
        """A task's trail, newest first: for its inspectors and their team lead."""
        await ensure_visible(db_session, principal, task_id)
        return await _page(
            db_session,
            AuditEvent.task_id == task_id,
            since=since,
            until=until,
            actor_id=actor_id,
            action=action,
            limit=limit,
            offset=offset,
        )


class TeamAuditController(Controller):
    path = "/api/v1/team/audit"
    tags = ["audit"]
    guards = [requires_team_lead]

    @get("/", operation_id="getTeamAuditTrail")
    async def team_trail(
        self,
        principal: Caller,
        db_session: DbSession,
        since: Since = None,
        until: Until = None,
        actor_id: ActorId = None,
        action: Actions = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> AuditPage:
        """My teams' trail, newest first: their tasks' events and what their members did outside tasks."""
        teams = led_team_ids(principal.user_id)
        scope = or_(
            AuditEvent.task_id.in_(select(Task.id).where(Task.team_id.in_(teams))),
            # what the members did outside any task (sign-ins, devices, recusals); their work on
            # other teams' tasks belongs to those teams' trails
            AuditEvent.task_id.is_(None)
            & AuditEvent.actor_user_id.in_(select(User.id).where(User.team_id.in_(teams))),
        )
        return await _page(
            db_session,
            scope,
            since=since,
            until=until,
            actor_id=actor_id,
            action=action,
            limit=limit,
            offset=offset,
        )


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    guards = [requires_operator]

    @get("/", operation_id="getAuditTrail")
    async def everything(
        self,
        db_session: DbSession,
        since: Since = None,
        until: Until = None,
        actor_id: ActorId = None,
        action: Actions = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> AuditPage:
        """The whole trail, newest first (operators)."""
        return await _page(
            db_session,
            AuditEvent.seq > 0,
            since=since,
            until=until,
            actor_id=actor_id,
            action=action,
            limit=limit,
            offset=offset,
        )


__all__ = ["AuditController", "TaskAuditController", "TeamAuditController"]

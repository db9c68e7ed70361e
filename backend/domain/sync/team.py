"""What a lead sees of sync in the team: late work, conflicts, rejected mutations, unsynced devices;
and an operator's revocation of a device."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import ColumnElement, or_, select, update

from backend.db.models import (
    Device,
    DeviceSync,
    MutationLogEntry,
    RefreshToken,
    SyncAmendment,
    SyncConflict,
    SyncRejection,
    Task,
    User,
)
from backend.db.paging import page_of
from backend.domain.audit.actions import AuditAction
from backend.domain.fields import Reason
from backend.domain.tasks.queries import led_team_ids
from backend.errors import NotFound
from backend.http.deps import AuditUnit, Caller, Ctx, DbSession
from backend.http.security import requires_operator, requires_team_lead

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]


class LateWork(msgspec.Struct, kw_only=True):
    mutation_id: str | None
    task_id: uuid.UUID | None
    user_id: uuid.UUID
    device_id: uuid.UUID
    kind: str
    """``late`` (applied after a reassignment) or ``amendment`` (kept: the task's state no longer allowed it)."""
    task_status: str | None
    payload: str | None
    at: datetime


class TeamConflict(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    task_id: uuid.UUID
    entity: str
    entity_id: uuid.UUID
    field: str
    winner: dict[str, Any]
    loser: dict[str, Any]
    status: str
    created_at: datetime


class TeamRejection(msgspec.Struct, kw_only=True):
    mutation_id: str | None
    task_id: uuid.UUID | None
    user_id: uuid.UUID
    device_id: uuid.UUID
    seq: int | None
    payload: str
    reason_code: str
    reason: str
    at: datetime


class UnsyncedDevice(msgspec.Struct, kw_only=True):
    device_id: uuid.UUID
    device_name: str
    user_id: uuid.UUID
    display_name: str
    pending_mutations: int
    pending_files: int
    oldest_pending_at: datetime | None
    last_push_at: datetime | None
    app_version: str | None


class Page(msgspec.Struct, kw_only=True):
    items: list[Any]
    total: int
    limit: int
    offset: int


class RevokeDevice(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


def _team_tasks(lead_id: uuid.UUID) -> Any:
    return select(Task.id).where(Task.team_id.in_(led_team_ids(lead_id)))


def _team_members(lead_id: uuid.UUID) -> Any:
    return select(User.id).where(User.team_id.in_(led_team_ids(lead_id)))


class TeamSyncController(Controller):
    path = "/api/v1/team/sync"
    tags = ["team"]
    guards = [requires_team_lead]

    @get("/late-work", operation_id="listTeamLateWork")
    async def late_work(
        self, principal: Caller, db_session: DbSession, limit: Limit = 100, offset: Offset = 0
    ) -> Page:
        """Work on my teams' tasks that arrived after a reassignment (applied, flagged) or after a state change (kept)."""
        tasks = _team_tasks(principal.user_id)
        late = [
            LateWork(
                mutation_id=m.mutation_id,
                task_id=m.task_id,
                user_id=m.user_id,
                device_id=m.device_id,
                kind="late",
                task_status=None,
                payload=None,
                at=m.at,
            )
            for m in (
                await db_session.scalars(
                    select(MutationLogEntry)
                    .where(MutationLogEntry.task_id.in_(tasks))
                    .order_by(MutationLogEntry.at.desc())
                )
            ).all()
            if "late" in m.flags
        ]
        kept = [
            LateWork(
                mutation_id=a.mutation_id,
                task_id=a.task_id,
                user_id=a.user_id,
                device_id=a.device_id,
                kind="amendment",
                task_status=a.task_status,
                payload=a.payload,
                at=a.at,
            )
            for a in (
                await db_session.scalars(
                    select(SyncAmendment)
                    .where(SyncAmendment.task_id.in_(tasks))
                    .order_by(SyncAmendment.at.desc())
                )
            ).all()
        ]
        items = sorted(late + kept, key=lambda w: w.at, reverse=True)
        return Page(
            items=items[offset : offset + limit], total=len(items), limit=limit, offset=offset
        )

    @get("/conflicts", operation_id="listTeamConflicts")
    async def conflicts(
        self,
        principal: Caller,
        db_session: DbSession,
        status: Annotated[str | None, QueryParameter(pattern=r"^(open|resolved)$")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page:
        """Conflict records on my teams' tasks, newest first."""
        where: list[ColumnElement[bool]] = [
            SyncConflict.task_id.in_(_team_tasks(principal.user_id))
        ]
        if status:
            where.append(SyncConflict.status == status)
        total, rows = await page_of(
            db_session,
            SyncConflict,
            where,
            order_by=[SyncConflict.version.desc()],
            limit=limit,
            offset=offset,
        )
        return Page(
            items=[
                TeamConflict(
                    id=c.id,
                    task_id=c.task_id,
                    entity=c.entity,
                    entity_id=c.entity_id,
                    field=c.field,
                    winner=c.winner,
                    loser=c.loser,
                    status=c.status,
                    created_at=c.created_at,
                )
                for c in rows
            ],
            total=total,
            limit=limit,
            offset=offset,
        )

    @get("/rejections", operation_id="listTeamRejections")
    async def rejections(
        self, principal: Caller, db_session: DbSession, limit: Limit = 100, offset: Offset = 0
    ) -> Page:
        """Mutations rejected from my team members' devices or for my teams' tasks, with payload and reason."""
        where = or_(
            SyncRejection.task_id.in_(_team_tasks(principal.user_id)),
            SyncRejection.user_id.in_(_team_members(principal.user_id)),
        )
        total, rows = await page_of(
            db_session,
            SyncRejection,
            [where],
            order_by=[SyncRejection.at.desc(), SyncRejection.version.desc()],
            limit=limit,
            offset=offset,
        )
        return Page(
            items=[
                TeamRejection(
                    mutation_id=r.mutation_id,
                    task_id=r.task_id,
                    user_id=r.user_id,
                    device_id=r.device_id,
                    seq=r.seq,
                    payload=r.payload,
                    reason_code=r.reason_code,
                    reason=r.reason,
                    at=r.at,
                )
                for r in rows
            ],
            total=total,
            limit=limit,
            offset=offset,
        )

    @get("/devices", operation_id="listTeamUnsyncedDevices")
    async def devices(self, principal: Caller, db_session: DbSession) -> list[UnsyncedDevice]:
        """My team members' devices that still hold unsynced work, the oldest first."""
        rows = await db_session.execute(
            select(DeviceSync, Device, User)
            .join(Device, Device.id == DeviceSync.device_id)
            .join(User, User.id == Device.user_id)
            .where(
                User.id.in_(_team_members(principal.user_id)),
                (DeviceSync.pending_mutations > 0) | (DeviceSync.pending_files > 0),
            )
            .order_by(DeviceSync.oldest_pending_at.asc().nulls_last())
        )
        return [
            UnsyncedDevice(
                device_id=d.id,
                device_name=d.name,
                user_id=u.id,
                display_name=u.display_name,
                pending_mutations=s.pending_mutations,
                pending_files=s.pending_files,
                oldest_pending_at=s.oldest_pending_at,
                last_push_at=s.last_push_at,
                app_version=s.app_version,
            )
            for s, d, u in rows
        ]


class DeviceAdminController(Controller):
    path = "/api/v1/devices/{device_id:uuid}"
    tags = ["operations"]
    guards = [requires_operator]

    @post("/revoke", operation_id="revokeDevice", status_code=200)
    async def revoke(
        self,
        device_id: FromPath[uuid.UUID],
        data: JSONBody[RevokeDevice],
        ctx: Ctx,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> dict[str, Any]:
        """Revoke a device (lost or stolen phone): its sessions end and it cannot sign in again."""
        device = await db_session.get(Device, device_id, with_for_update=True)
        if device is None:
            raise NotFound("设备不存在", device_id=str(device_id))
        now = ctx.clock.now()
        if device.revoked_at is None:
            device.revoked_at = now
            device.revoked_reason = data.reason
            device.session_generation += 1
            await db_session.execute(
                update(RefreshToken)
                .where(RefreshToken.device_id == device_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            audit.record(
                AuditAction.DEVICE_REVOKED,
                subject_kind="device",
                subject_id=device_id,
                reason=data.reason,
                details={"user_id": str(device.user_id)},
            )
        return {"device_id": str(device_id), "revoked_at": device.revoked_at.isoformat()}

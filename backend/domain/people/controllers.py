"""Who am I, and the conflicts of interest (回避) I declare."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import local_today
from backend.db.models import (
    ConflictOfInterest,
    Department,
    InspectionObject,
    InspectorProfile,
    Team,
    User,
)
from backend.errors import Conflict, InvalidInput, NotFound
from backend.http.deps import Caller, Ctx, DbSession
from backend.http.security import requires_inspector, requires_team_lead

from .qualifications import QUALIFICATION_AREAS


class TeamRef(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    lead_id: uuid.UUID | None


class QualificationOut(msgspec.Struct, kw_only=True):
    code: str
    name: str


class ProfileOut(msgspec.Struct, kw_only=True):
    certificate_no: str
    certificate_valid_from: date
    certificate_valid_until: date
    certificate_valid_today: bool
    qualification_areas: list[QualificationOut]
    specialties: list[str]


class MeOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    department_id: uuid.UUID
    department_name: str
    team: TeamRef | None
    led_teams: list[TeamRef]
    profile: ProfileOut | None
    device_id: uuid.UUID


class DeclareConflict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    object_id: uuid.UUID
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=500)]


class RecordBusinessRecusal(DeclareConflict, kw_only=True, forbid_unknown_fields=True):
    inspector_id: uuid.UUID


class ConflictOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    inspector_id: uuid.UUID
    object_id: uuid.UUID
    object_name: str
    reason: str
    source: str
    created_at: datetime


def _team(team: Team) -> TeamRef:
    return TeamRef(id=team.id, name=team.name, lead_id=team.lead_id)


async def _declare(
    session: AsyncSession,
    ctx: Ctx,
    *,
    inspector_id: uuid.UUID,
    object_id: uuid.UUID,
    reason: str,
    source: str,
    by: uuid.UUID,
) -> ConflictOut:
    obj = await session.get(InspectionObject, object_id)
    if obj is None:
        raise InvalidInput("检查对象不存在", object_id=str(object_id))
    exists = await session.scalar(
        select(ConflictOfInterest.id).where(
            ConflictOfInterest.inspector_id == inspector_id,
            ConflictOfInterest.object_id == object_id,
        )
    )
    if exists is not None:
        raise Conflict("该回避事项已登记", conflict_id=str(exists))
    row = ConflictOfInterest(
        id=uuid.uuid4(),
        inspector_id=inspector_id,
        object_id=object_id,
        reason=reason,
        source=source,
        declared_by_id=by,
        created_at=ctx.clock.now(),
    )
    session.add(row)
    await session.flush()
    return ConflictOut(
        id=row.id,
        inspector_id=inspector_id,
        object_id=object_id,
        object_name=obj.name,
        reason=reason,
        source=source,
        created_at=row.created_at,
    )


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["people"]

    @get("/", operation_id="getMe")
    async def me(self, principal: Caller, ctx: Ctx, db_session: DbSession) -> MeOut:
        """The signed-in user, their team, their 执法证 and qualifications, and this device."""
        user = await db_session.get(User, principal.user_id)
        if user is None:
            raise NotFound("用户不存在")
        department = await db_session.get(Department, user.department_id)
        team = await db_session.get(Team, user.team_id) if user.team_id else None
        led = (
            await db_session.scalars(
                select(Team).where(Team.lead_id == user.id).order_by(Team.name)
            )
        ).all()
        profile = await db_session.get(InspectorProfile, user.id)
        return MeOut(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role.value,
            department_id=user.department_id,
            department_name=department.name if department else "",
            team=_team(team) if team else None,
            led_teams=[_team(t) for t in led],
            profile=ProfileOut(
                certificate_no=profile.certificate_no,
                certificate_valid_from=profile.certificate_valid_from,
                certificate_valid_until=profile.certificate_valid_until,
                certificate_valid_today=profile.certificate_valid_on(local_today(ctx.clock)),
                qualification_areas=[
                    QualificationOut(code=c, name=QUALIFICATION_AREAS.get(c, c))
                    for c in profile.qualification_areas
                ],
                specialties=profile.specialties,
            )
            if profile
            else None,
            device_id=principal.device_id,
        )

    @get("/conflicts", operation_id="listMyConflicts", guards=[requires_inspector])
    async def my_conflicts(self, principal: Caller, db_session: DbSession) -> list[ConflictOut]:
        """The conflicts of interest declared for me."""
        rows = await db_session.execute(
            select(ConflictOfInterest, InspectionObject.name)
            .join(InspectionObject, InspectionObject.id == ConflictOfInterest.object_id)
            .where(ConflictOfInterest.inspector_id == principal.user_id)
            .order_by(ConflictOfInterest.created_at)
        )
        return [
            ConflictOut(
                id=c.id,
                inspector_id=c.inspector_id,
                object_id=c.object_id,
                object_name=name,
                reason=c.reason,
                source=c.source,
                created_at=c.created_at,
            )
            for c, name in rows
        ]

    @post("/conflicts", operation_id="declareConflict", guards=[requires_inspector])
    async def declare(
        self, data: JSONBody[DeclareConflict], principal: Caller, ctx: Ctx, db_session: DbSession
    ) -> ConflictOut:
        """Declare a conflict of interest with an object (回避); I can no longer be assigned to it."""
        return await _declare(
            db_session,
            ctx,
            inspector_id=principal.user_id,
            object_id=data.object_id,
            reason=data.reason,
            source="inspector",
            by=principal.user_id,
        )


class TeamConflictController(Controller):
    path = "/api/v1/team/conflicts"
    tags = ["people"]
    guards = [requires_team_lead]

    @post("/", operation_id="recordBusinessRecusal")
    async def record(
        self,
        data: JSONBody[RecordBusinessRecusal],
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
    ) -> ConflictOut:
        """Record a business's request that an inspector of my team recuse themselves."""
        member = await db_session.scalar(
            select(User.id).where(
                User.id == data.inspector_id,
                User.team_id.in_(select(Team.id).where(Team.lead_id == principal.user_id)),
            )
        )
        if member is None:
            raise NotFound("该检查人员不在您的检查组", inspector_id=str(data.inspector_id))
        return await _declare(
            db_session,
            ctx,
            inspector_id=data.inspector_id,
            object_id=data.object_id,
            reason=data.reason,
            source="business",
            by=principal.user_id,
        )

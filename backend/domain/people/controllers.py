"""Who am I, and the conflicts of interest (回避) I declare."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody
from sqlalchemy import select

from backend.clock import local_today
from backend.db.models import (
    ConflictOfInterest,
    Department,
    InspectionObject,
    InspectorProfile,
    Team,
    User,
)
from backend.errors import NotFound
from backend.http.deps import AuditUnit, Caller, Ctx, DbSession
from backend.http.security import requires_inspector, requires_team_lead

from .qualifications import QUALIFICATION_AREAS
from .services import ConflictOut, ConflictService


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


def _team(team: Team) -> TeamRef:
    return TeamRef(id=team.id, name=team.name, lead_id=team.lead_id)


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
        self,
        data: JSONBody[DeclareConflict],
        principal: Caller,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> ConflictOut:
        """Declare a conflict of interest with an object (回避); I can no longer be assigned to it."""
        return await ConflictService(db_session, audit).declare(
            inspector_id=principal.user_id,
            object_id=data.object_id,
            reason=data.reason,
            source="inspector",
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
        db_session: DbSession,
        audit: AuditUnit,
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
        return await ConflictService(db_session, audit).declare(
            inspector_id=data.inspector_id,
            object_id=data.object_id,
            reason=data.reason,
            source="business",
        )

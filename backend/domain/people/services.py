"""Declared conflicts of interest (回避): by the inspector, or at the business's request."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import ConflictOfInterest, InspectionObject
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.errors import Conflict, InvalidInput


class ConflictOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    inspector_id: uuid.UUID
    object_id: uuid.UUID
    object_name: str
    reason: str
    source: str
    created_at: datetime


class ConflictService:
    def __init__(self, session: AsyncSession, audit: Audit) -> None:
        self._session = session
        self._audit = audit

    async def declare(
        self, *, inspector_id: uuid.UUID, object_id: uuid.UUID, reason: str, source: str
    ) -> ConflictOut:
        """Record that ``inspector_id`` may not inspect ``object_id``; from now on no task assigns them to it."""
        obj = await self._session.get(InspectionObject, object_id)
        if obj is None:
            raise InvalidInput("检查对象不存在", object_id=str(object_id))
        exists = await self._session.scalar(
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
            declared_by_id=self._audit.actor.user_id or inspector_id,
            created_at=self._audit.clock.now(),
        )
        self._session.add(row)
        await self._session.flush()
        self._audit.record(
            AuditAction.CONFLICT_OF_INTEREST_DECLARED,
            subject_kind="conflict_of_interest",
            subject_id=row.id,
            reason=reason,
            after={
                "inspector_id": str(inspector_id),
                "object_id": str(object_id),
                "source": source,
            },
            details={
                "inspector_id": str(inspector_id),
                "object_id": str(object_id),
                "source": source,
            },
        )
        return ConflictOut(
            id=row.id,
            inspector_id=inspector_id,
            object_id=object_id,
            object_name=obj.name,
            reason=reason,
            source=source,
            created_at=row.created_at,
        )

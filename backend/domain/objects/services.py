"""The directory of inspection objects (检查对象名录库)."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.db.models import InspectionObject, ObjectKind
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.errors import DuplicateObject, InvalidUSCC

from . import uscc


class NewInspectionObject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    uscc: str
    name: str
    kind: ObjectKind
    address: str
    legal_representative: str
    legal_representative_phone: str | None = None
    contact_person: str | None = None
    contact_phone: str | None = None
    industry: str | None = None
    risk_level: str | None = None
    credit_class: str | None = None
    latitude: str | None = None
    longitude: str | None = None


def check_uscc(code: str) -> None:
    """Raise ``InvalidUSCC`` unless ``code`` is a valid 统一社会信用代码 exactly as given."""
    found = uscc.problems(code)
    if not found:
        return
    suggestion = uscc.normalize(code)
    extra: dict[str, object] = {"problems": found}
    if suggestion != code and uscc.is_valid(suggestion):
        extra["suggestion"] = suggestion
        found = [*found, f"是否应为 {suggestion}？"]
    raise InvalidUSCC(f"统一社会信用代码“{code}”无效：" + "；".join(found), **extra)


class InspectionObjectService:
    def __init__(self, session: AsyncSession, clock: Clock, audit: Audit) -> None:
        self._session = session
        self._clock = clock
        self._audit = audit

    async def register(self, data: NewInspectionObject) -> InspectionObject:
        check_uscc(data.uscc)
        existing = await self._session.scalar(
            select(InspectionObject.id).where(InspectionObject.uscc == data.uscc)
        )
        if existing is not None:
            raise DuplicateObject(
                f"统一社会信用代码 {data.uscc} 的检查对象已存在", object_id=str(existing)
            )
        fields = msgspec.structs.asdict(data)
        obj = InspectionObject(id=uuid.uuid4(), created_at=self._clock.now(), **fields)
        self._session.add(obj)
        await self._session.flush()
        self._audit.record(
            AuditAction.OBJECT_REGISTERED,
            subject_kind="inspection_object",
            subject_id=obj.id,
            after={k: (v.value if isinstance(v, ObjectKind) else v) for k, v in fields.items()},
            details={"uscc": obj.uscc, "name": obj.name},
        )
        return obj

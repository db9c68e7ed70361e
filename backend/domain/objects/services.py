"""The directory of inspection objects (检查对象名录库)."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.db.models import InspectionObject, ObjectKind
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.fields import (
    Address,
    Grade,
    Latitude,
    Longitude,
    Name,
    Phone,
    ShortName,
    USCCInput,
)
from backend.errors import DomainError, DuplicateObject, InvalidUSCC

from . import uscc


class NewInspectionObject(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    uscc: USCCInput
    """统一社会信用代码, exactly as on the licence (checked, never silently normalised)."""
    name: Name
    kind: ObjectKind
    address: Address
    legal_representative: ShortName
    legal_representative_phone: Phone | None = None
    contact_person: ShortName | None = None
    contact_phone: Phone | None = None
    industry: Annotated[str, msgspec.Meta(max_length=100, pattern=r"^[^\x00]*$")] | None = None
    risk_level: Grade | None = None
    credit_class: Grade | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    def __post_init__(self) -> None:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude come together")


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
        """Add an object to the directory; a refusal a person asked for is itself recorded."""
        try:
            return await self._register(data)
        except DomainError as exc:
            if self._audit.actor.is_person:
                self._audit.record_after_response(
                    AuditAction.RULE_REFUSED,
                    subject_kind="inspection_object",
                    subject_id=data.uscc[:64],
                    details={
                        "operation": "register_object",
                        "error": exc.code,
                        "detail": exc.detail,
                    },
                )
            raise

    async def _register(self, data: NewInspectionObject) -> InspectionObject:
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
        try:
            async with (
                self._session.begin_nested()
            ):  # a concurrent registration of the same code loses here
                self._session.add(obj)
                await self._session.flush()
        except IntegrityError as exc:
            raise DuplicateObject(f"统一社会信用代码 {data.uscc} 的检查对象已存在") from exc
        self._audit.record(
            AuditAction.OBJECT_REGISTERED,
            subject_kind="inspection_object",
            subject_id=obj.id,
            after={k: (v.value if isinstance(v, ObjectKind) else v) for k, v in fields.items()},
            details={"uscc": obj.uscc, "name": obj.name},
        )
        return obj

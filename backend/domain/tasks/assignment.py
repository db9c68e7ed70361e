"""The assignment rules (who may inspect what), checked before any task is assigned.

Every rule refuses with its own domain error and changes nothing:

* at least two distinct inspectors, exactly one of them the primary (主检);
* each holds an 执法证 valid on the task's due date;
* none has a declared conflict of interest (回避) with the object;
* each is qualified (department and area) for at least one of the task's items — auxiliary
  staff may not inspect;
* each item is covered by at least one qualified inspector of its own department
  (joint inspections: 进一次门、查多项事).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.db.models import ConflictOfInterest, InspectorProfile, User
from backend.errors import (
    CertificateNotValid,
    ConflictOfInterestDeclared,
    InspectorNotFound,
    InspectorNotQualified,
    ItemNotCovered,
    NoPrimaryInspector,
    TooFewInspectors,
)

MIN_INSPECTORS = 2


@dataclass(frozen=True, slots=True)
class ItemRequirement:
    code: str
    name: str
    department_id: uuid.UUID
    qualification_area: str


def _qualified(user: User, profile: InspectorProfile, item: ItemRequirement) -> bool:
    return (
        user.department_id == item.department_id
        and item.qualification_area in profile.qualification_areas
    )


async def check_assignment(
    session: AsyncSession,
    *,
    object_id: uuid.UUID,
    items: Sequence[ItemRequirement],
    inspector_ids: Sequence[uuid.UUID],
    primary_id: uuid.UUID,
    due_on: date,
) -> list[User]:
    """Check the rules; return the inspectors (in the given order) when all hold."""
    distinct = list(dict.fromkeys(inspector_ids))
    if len(distinct) != len(inspector_ids):
        raise TooFewInspectors(
            "同一名检查人员被重复指派", inspector_ids=[str(i) for i in inspector_ids]
        )
    if len(distinct) < MIN_INSPECTORS:
        raise TooFewInspectors(
            f"每项检查至少需要{MIN_INSPECTORS}名执法检查人员，本次只有{len(distinct)}名",
            count=len(distinct),
        )
    if primary_id not in distinct:
        raise NoPrimaryInspector("主检人员必须是被指派的检查人员之一", primary_id=str(primary_id))

    rows = (
        await session.scalars(
            select(User).where(User.id.in_(distinct)).options(selectinload(User.profile))
        )
    ).all()
    by_id = {user.id: user for user in rows}
    missing = [
        str(i)
        for i in distinct
        if i not in by_id or not by_id[i].active or by_id[i].profile is None
    ]
    if missing:
        raise InspectorNotFound(
            "以下人员不是在岗的执法检查人员（无执法证的辅助人员不得从事检查）",
            inspector_ids=missing,
        )
    users = [by_id[i] for i in distinct]

    expired = [
        u for u in users if u.profile is not None and not u.profile.certificate_valid_on(due_on)
    ]
    if expired:
        raise CertificateNotValid(
            f"以下人员的执法证在截止日期 {due_on.isoformat()} 不在有效期内："
            + "、".join(u.display_name for u in expired),
            inspector_ids=[str(u.id) for u in expired],
            due_on=due_on.isoformat(),
        )

    conflicted = (
        await session.scalars(
            select(ConflictOfInterest.inspector_id).where(
                ConflictOfInterest.object_id == object_id,
                ConflictOfInterest.inspector_id.in_(distinct),
            )
        )
    ).all()
    if conflicted:
        names = "、".join(by_id[i].display_name for i in conflicted)
        raise ConflictOfInterestDeclared(
            f"以下人员已申报与该检查对象存在利害关系，应当回避：{names}",
            inspector_ids=[str(i) for i in conflicted],
        )

    unqualified = [
        u
        for u in users
        if u.profile is not None and not any(_qualified(u, u.profile, it) for it in items)
    ]
    if unqualified:
        raise InspectorNotQualified(
            "以下人员不具备本任务任何检查事项的执法资格："
            + "、".join(u.display_name for u in unqualified),
            inspector_ids=[str(u.id) for u in unqualified],
        )

    uncovered = [
        it
        for it in items
        if not any(u.profile is not None and _qualified(u, u.profile, it) for u in users)
    ]
    if uncovered:
        raise ItemNotCovered(
            "以下检查事项没有本部门具备相应资格的检查人员："
            + "、".join(f"{it.name}（{it.code}）" for it in uncovered),
            item_codes=[it.code for it in uncovered],
        )
    return users

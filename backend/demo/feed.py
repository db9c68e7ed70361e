"""The reference platform's drawn tasks in the demo: what its task feed offers the backend.

Made from the demo data so they fit it: each copies the items, lead department, plan and
inspectors of one of ``insp01``'s assigned tasks, for a business that has no task yet — two
that pass the rules (the backend imports them ``assigned`` and the phones get them), and one
naming a person the backend does not know (held for the lead with the reason).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from backend.clock import Clock, local_today
from backend.db.engine import create_engine
from backend.db.models import (
    Department,
    InspectionItem,
    InspectionItemVersion,
    InspectionObject,
    Task,
    TaskAssignment,
    TaskItem,
    TaskStatus,
    User,
)
from backend.settings import Settings

UNKNOWN_SUBJECT = "00000000-0000-4000-8000-0000000000aa"
"""A person the platform knows and the backend does not (the held task)."""


async def drawn_tasks(settings: Settings, clock: Clock) -> tuple[dict[str, Any], ...]:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    engine = create_engine(settings.effective_database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            inspector = await session.scalar(select(User.id).where(User.username == "insp01"))
            models = (
                await session.scalars(
                    select(Task)
                    .join(TaskAssignment, TaskAssignment.task_id == Task.id)
                    .where(
                        TaskAssignment.user_id == inspector,
                        TaskAssignment.is_primary.is_(True),
                        Task.status == TaskStatus.ASSIGNED,
                        Task.platform_ref.is_(None),
                    )
                    .order_by(Task.due_on.desc())
                    .limit(2)
                    .options(selectinload(Task.plan))
                )
            ).all()
            free = (
                await session.scalars(
                    select(InspectionObject)
                    .where(~InspectionObject.id.in_(select(Task.object_id)))
                    .order_by(InspectionObject.uscc)
                    .limit(3)
                )
            ).all()
            bodies: list[dict[str, Any]] = []
            today = local_today(clock.now())
            for n, (model, business) in enumerate(zip([*models, *models[:1]], free, strict=False)):
                items = (
                    await session.scalars(
                        select(InspectionItem.code)
                        .join(
                            InspectionItemVersion,
                            InspectionItemVersion.item_id == InspectionItem.id,
                        )
                        .join(TaskItem, TaskItem.item_version_id == InspectionItemVersion.id)
                        .where(TaskItem.task_id == model.id)
                        .order_by(TaskItem.ordinal)
                    )
                ).all()
                people = (
                    await session.execute(
                        select(User.platform_subject, TaskAssignment.is_primary)
                        .join(TaskAssignment, TaskAssignment.user_id == User.id)
                        .where(TaskAssignment.task_id == model.id)
                        .order_by(TaskAssignment.is_primary.desc())
                    )
                ).all()
                subjects = [str(s) for s, _ in people]
                if n == 2:
                    subjects = [subjects[0], UNKNOWN_SUBJECT]
                department = await session.scalar(
                    select(Department.code).where(Department.id == model.lead_department_id)
                )
                bodies.append(
                    {
                        "task_ref": f"PT-{today.year}-{n + 1:04d}",
                        "code": f"PT{today:%Y%m%d}{n + 1:03d}",
                        "name": f"平台下发：{business.name}",
                        "plan": {
                            "code": model.plan.code,
                            "name": model.plan.name,
                            "starts_on": model.plan.starts_on.isoformat(),
                            "ends_on": model.plan.ends_on.isoformat(),
                        },
                        "object": {
                            "uscc": business.uscc,
                            "name": business.name,
                            "address": business.address,
                            "legal_representative": business.legal_representative,
                            "phone": business.legal_representative_phone
                            or business.contact_phone
                            or "",
                        },
                        "item_codes": list(items),
                        "department_code": department,
                        "inspector_subjects": subjects,
                        "primary_subject": subjects[0],
                        "issued_on": today.isoformat(),
                        "due_on": max(model.due_on, today).isoformat(),
                    }
                )
            return tuple(bodies)
    finally:
        await engine.dispose()

"""What the importer shares with the lead's release of a held task: the rules a task is checked
against, its requirements, its activation, and the queries below them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock, local_today
from backend.db.models import (
    ChecklistPoint,
    Department,
    InspectionItem,
    InspectionItemVersion,
    InspectionObject,
    MutationLogEntry,
    ObjectKind,
    Plan,
    Task,
    TaskAssignment,
    TaskItem,
    TaskStatus,
    User,
)
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.deadlines import services as deadlines
from backend.domain.deadlines.calendars import load_calendar
from backend.domain.deadlines.workdays import WorkCalendar
from backend.domain.sync.services import create_server_records
from backend.domain.tasks.assignment import ItemRequirement, check_assignment
from backend.domain.tasks.reassignment import append_history
from backend.errors import InvalidInput

from ._feed import FeedTask


async def check_task(
    session: AsyncSession,
    clock: Clock,
    *,
    plan: Plan,
    issued_on: date,
    due_on: date,
    object_id: uuid.UUID,
    lead_department_id: uuid.UUID,
    requirements: list[ItemRequirement],
    inspector_ids: list[uuid.UUID],
    primary_id: uuid.UUID,
) -> None:
    """The rules an issued task is checked against (``TaskService``); raises the rule's error.

    Besides the issue rules: a due date already past is refused, as nobody could meet it.
    """
    if due_on < issued_on:
        raise InvalidInput("截止日期不能早于下达日期")
    if issued_on < plan.starts_on:
        raise InvalidInput(
            f"下达日期不能早于抽查计划的开始日期 {plan.starts_on.isoformat()}",
            plan_starts_on=plan.starts_on.isoformat(),
        )
    if due_on > plan.ends_on:
        raise InvalidInput(
            f"截止日期不能晚于抽查计划的结束日期 {plan.ends_on.isoformat()}",
            plan_ends_on=plan.ends_on.isoformat(),
        )
    if due_on < local_today(clock):
        raise InvalidInput(
            f"截止日期 {due_on.isoformat()} 已过，请平台调整截止日期", due_on=due_on.isoformat()
        )
    await check_assignment(
        session,
        object_id=object_id,
        items=requirements,
        inspector_ids=inspector_ids,
        primary_id=primary_id,
        due_on=due_on,
    )
    if lead_department_id not in {r.department_id for r in requirements}:
        raise InvalidInput("牵头部门必须是本任务某一检查事项的所属部门")


async def requirements_of(session: AsyncSession, task_id: uuid.UUID) -> list[ItemRequirement]:
    rows = (
        await session.execute(
            select(InspectionItem.code, InspectionItemVersion, TaskItem.department_id)
            .join(InspectionItemVersion, InspectionItemVersion.id == TaskItem.item_version_id)
            .join(InspectionItem, InspectionItem.id == InspectionItemVersion.item_id)
            .where(TaskItem.task_id == task_id)
            .order_by(TaskItem.ordinal)
        )
    ).all()
    return [
        ItemRequirement(
            code=code,
            name=version.name,
            department_id=department_id,
            qualification_area=version.qualification_area,
        )
        for code, version, department_id in rows
    ]


async def activate(
    session: AsyncSession,
    audit: Audit,
    task: Task,
    inspector_ids: list[uuid.UUID],
    primary_id: uuid.UUID,
    *,
    by_user_id: uuid.UUID | None,
    action: str,
    reason: str | None,
) -> None:
    """A held task (checked) becomes ``assigned`` exactly as an issued task is written: its
    assignments, the history entry, the synced records of its checklist, and the change
    sequence its inspectors' phones pull it from."""
    now = audit.clock.now()
    ids = list(dict.fromkeys(inspector_ids))
    assignments = [
        TaskAssignment(task_id=task.id, user_id=i, is_primary=i == primary_id, assigned_at=now)
        for i in ids
    ]
    session.add_all(assignments)
    await append_history(
        session,
        task,
        now,
        by_user_id=by_user_id,
        action=action,
        inspector_ids=ids,
        primary_id=primary_id,
        previous=[],
        reason=reason,
    )
    await create_server_records(session, task, await _point_ids(session, task.id))
    for a in assignments:
        a.assigned_version = task.sync_version
    task.status = TaskStatus.ASSIGNED
    task.hold_reason = None
    task.updated_at = now
    await session.flush()
    assignment = {
        "task_id": str(task.id),
        "inspector_ids": [str(i) for i in ids],
        "primary_id": str(primary_id),
    }
    audit.record(
        AuditAction.TASK_ASSIGNED,
        subject_kind="task",
        subject_id=task.id,
        task_id=task.id,
        reason=reason,
        before={"status": TaskStatus.HELD.value},
        after={**assignment, "status": TaskStatus.ASSIGNED.value},
        details={**assignment, "code": task.code, "team_id": str(task.team_id), "via": action},
    )


async def _departments_of(
    session: AsyncSession, versions: list[InspectionItemVersion]
) -> dict[uuid.UUID, uuid.UUID]:
    """The department of each item of ``versions``, by item id."""
    rows = await session.execute(
        select(InspectionItem.id, InspectionItem.department_id).where(
            InspectionItem.id.in_([v.item_id for v in versions])
        )
    )
    return dict(rows.tuples().all())


async def _point_ids(session: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        (
            await session.scalars(
                select(ChecklistPoint.id)
                .join(TaskItem, TaskItem.item_version_id == ChecklistPoint.item_version_id)
                .where(TaskItem.task_id == task_id)
                .order_by(ChecklistPoint.item_version_id, ChecklistPoint.ordinal)
            )
        ).all()
    )


async def _captured(session: AsyncSession, task: Task) -> bool:
    """Whether any phone has pushed anything for the task (the local work to keep)."""
    if task.checked_in_at is not None or task.checked_at is not None:
        return True
    return bool(await session.scalar(select(exists().where(MutationLogEntry.task_id == task.id))))


async def _calendar(session: AsyncSession, task: Task) -> WorkCalendar:
    if task.checked_at is None:
        return deadlines.EMPTY_CALENDAR
    return await load_calendar(session)


async def _snapshot(session: AsyncSession, task: Task) -> dict[str, Any]:
    """The task as it stands here, in the feed's terms (to see what a new version changes)."""
    plan_code = await session.scalar(select(Plan.code).where(Plan.id == task.plan_id))
    uscc = await session.scalar(
        select(InspectionObject.uscc).where(InspectionObject.id == task.object_id)
    )
    department = await session.scalar(
        select(Department.code).where(Department.id == task.lead_department_id)
    )
    items = [r.code for r in await requirements_of(session, task.id)]
    people = (
        await session.execute(
            select(User.platform_subject, TaskAssignment.is_primary)
            .join(TaskAssignment, TaskAssignment.user_id == User.id)
            .where(TaskAssignment.task_id == task.id)
        )
    ).all()
    return {
        "name": task.name,
        "issued_on": task.issued_on.isoformat(),
        "due_on": task.due_on.isoformat(),
        "plan_code": plan_code,
        "object_uscc": uscc,
        "department_code": department,
        "item_codes": items,
        "inspector_subjects": sorted(s or "" for s, _ in people),
        "primary_subject": next((s for s, primary in people if primary), None),
    }


def _wanted(feed: FeedTask) -> dict[str, Any]:
    return {
        "name": feed.name,
        "issued_on": feed.issued_on.isoformat(),
        "due_on": feed.due_on.isoformat(),
        "plan_code": feed.plan.code,
        "object_uscc": feed.object.uscc,
        "department_code": feed.department_code,
        "item_codes": list(feed.item_codes),
        "inspector_subjects": sorted(feed.inspector_subjects),
        "primary_subject": feed.primary_subject,
    }


def _kind_of(uscc: str) -> ObjectKind:
    """The kind from the code's 登记管理部门 and 机构类别 (GB 32100: 91 企业, 92 个体, 93 合作社)."""
    return {
        "91": ObjectKind.ENTERPRISE,
        "92": ObjectKind.INDIVIDUAL,
        "93": ObjectKind.COOPERATIVE,
    }.get(uscc[:2], ObjectKind.OTHER)

"""Reassignment by a team lead: the same rules as assignment, a reason, history, audit, revocations.

The previous assignees' next pull carries a revocation; work they captured before it arrives
later, is applied under the normal rules and flagged late (``sync`` engine).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import (
    AssignmentHistoryEntry,
    InspectionItem,
    InspectionItemVersion,
    Task,
    TaskAssignment,
    TaskItem,
    TaskRevocation,
    TaskStatus,
    User,
)
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.fields import Reason
from backend.domain.sync.store import lock_counter
from backend.domain.upstream.messages import assignment_message
from backend.errors import DomainError, InvalidInput, TaskNotFound

from .assignment import ItemRequirement, check_assignment
from .queries import led_task_for_update, led_team_ids

FINISHED = frozenset({TaskStatus.PUBLISHED, TaskStatus.WITHDRAWN})


class Reassignment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    inspector_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=20)]
    primary_inspector_id: uuid.UUID
    reason: Reason
    """Why (调整原因): kept in the assignment history and the audit trail."""


async def reassign(
    session: AsyncSession,
    audit: Audit,
    *,
    lead_id: uuid.UUID,
    task_id: uuid.UUID,
    change: Reassignment,
) -> Task:
    """Give a task of the lead's team to other inspectors; refusals are recorded like assignments'."""
    try:
        return await _reassign(session, audit, lead_id=lead_id, task_id=task_id, change=change)
    except DomainError as exc:
        record_refusal(audit, "reassign_task", task_id, change.reason, change.inspector_ids, exc)
        raise


def record_refusal(
    audit: Audit,
    operation: str,
    task_id: uuid.UUID,
    reason: str,
    inspector_ids: list[uuid.UUID],
    exc: DomainError,
) -> None:
    """A lead's assignment that a rule refused, in the audit trail (after the response: the
    refusal changes nothing else); a task the lead may not see is not recorded."""
    if isinstance(exc, TaskNotFound):
        return
    audit.record_after_response(
        AuditAction.RULE_REFUSED,
        subject_kind="task",
        subject_id=task_id,
        task_id=task_id,
        reason=reason,
        details={
            "operation": operation,
            "error": exc.code,
            "detail": exc.detail,
            "inspector_ids": [str(i) for i in inspector_ids],
        },
    )


async def append_history(
    session: AsyncSession,
    task: Task,
    now: datetime,
    *,
    by_user_id: uuid.UUID | None,
    action: str,
    inspector_ids: list[uuid.UUID],
    primary_id: uuid.UUID,
    previous: list[str],
    reason: str | None,
) -> int:
    """One more entry in the task's assignment history (who, when, to whom, from whom, why);
    answers its ordinal."""
    ordinal = (
        await session.scalar(
            select(func.max(AssignmentHistoryEntry.ordinal)).where(
                AssignmentHistoryEntry.task_id == task.id
            )
        )
    ) or 0
    session.add(
        AssignmentHistoryEntry(
            task_id=task.id,
            ordinal=ordinal + 1,
            at=now,
            by_user_id=by_user_id,
            action=action,
            inspector_ids=[str(i) for i in inspector_ids],
            primary_id=primary_id,
            previous_inspector_ids=previous,
            reason=reason,
        )
    )
    return ordinal + 1


async def _reassign(
    session: AsyncSession,
    audit: Audit,
    *,
    lead_id: uuid.UUID,
    task_id: uuid.UUID,
    change: Reassignment,
) -> Task:
    meta = await lock_counter(session)
    task = await led_task_for_update(session, lead_id, task_id)
    if task.status in FINISHED:
        raise InvalidInput(
            f"任务已{'公示' if task.status is TaskStatus.PUBLISHED else '撤回'}，不能再调整检查人员"
        )
    rows = (
        await session.execute(
            select(InspectionItem.code, InspectionItemVersion, TaskItem.department_id)
            .join(InspectionItemVersion, InspectionItemVersion.id == TaskItem.item_version_id)
            .join(InspectionItem, InspectionItem.id == InspectionItemVersion.item_id)
            .where(TaskItem.task_id == task.id)
        )
    ).all()
    requirements = [
        ItemRequirement(
            code=code,
            name=version.name,
            department_id=department_id,
            qualification_area=version.qualification_area,
        )
        for code, version, department_id in rows
    ]
    current = (
        await session.scalars(select(TaskAssignment).where(TaskAssignment.task_id == task.id))
    ).all()
    members = set(
        (
            await session.scalars(select(User.id).where(User.team_id.in_(led_team_ids(lead_id))))
        ).all()
    ) | {a.user_id for a in current}
    outsiders = [i for i in change.inspector_ids if i not in members]
    if outsiders:
        raise InvalidInput(
            "只能调整给本检查组的人员（或本任务现有的联合检查人员）",
            inspector_ids=[str(i) for i in outsiders],
        )
    await check_assignment(
        session,
        object_id=task.object_id,
        items=requirements,
        inspector_ids=change.inspector_ids,
        primary_id=change.primary_inspector_id,
        due_on=task.due_on,
    )
    before = sorted(str(a.user_id) for a in current)
    previous_primary = next((a.user_id for a in current if a.is_primary), None)
    after_ids = list(dict.fromkeys(change.inspector_ids))
    if (
        sorted(str(i) for i in after_ids) == before
        and previous_primary == change.primary_inspector_id
    ):
        raise InvalidInput("新的检查人员与现在相同，无需调整")
    now = audit.clock.now()
    removed = {a.user_id for a in current} - set(after_ids)
    await session.execute(delete(TaskAssignment).where(TaskAssignment.task_id == task.id))
    await session.flush()
    meta.seq += 1
    version = meta.seq
    kept = {a.user_id: a for a in current}
    session.add_all(
        TaskAssignment(
            task_id=task.id,
            user_id=user_id,
            is_primary=user_id == change.primary_inspector_id,
            assigned_at=kept[user_id].assigned_at if user_id in kept else now,
            assigned_version=kept[user_id].assigned_version if user_id in kept else version,
        )
        for user_id in after_ids
    )
    for user_id in sorted(removed, key=str):
        meta.seq += 1
        session.add(
            TaskRevocation(
                id=uuid.uuid4(), task_id=task.id, user_id=user_id, version=meta.seq, at=now
            )
        )
    ordinal = await append_history(
        session,
        task,
        now,
        by_user_id=lead_id,
        action="reassigned",
        inspector_ids=after_ids,
        primary_id=change.primary_inspector_id,
        previous=before,
        reason=change.reason,
    )
    report = await assignment_message(
        session,
        task.id,
        task.platform_ref or str(task.id),
        lead_id=lead_id,
        inspector_ids=after_ids,
        primary_id=change.primary_inspector_id,
        reason=change.reason,
        ordinal=ordinal,
        now=now,
    )
    if report is not None:
        session.add(report)  # the platform hears of it through the outbox, in this transaction
    meta.seq += 1
    task.sync_version = meta.seq
    task.updated_at = now
    await session.flush()
    audit.record(
        AuditAction.TASK_REASSIGNED,
        subject_kind="task",
        subject_id=task.id,
        task_id=task.id,
        reason=change.reason,
        before={
            "task_id": str(task.id),
            "inspector_ids": before,
            "primary_id": str(previous_primary),
        },
        after={
            "task_id": str(task.id),
            "inspector_ids": sorted(str(i) for i in after_ids),
            "primary_id": str(change.primary_inspector_id),
        },
        details={
            "removed": sorted(str(i) for i in removed),
            "added": sorted(str(i) for i in set(after_ids) - {a.user_id for a in current}),
        },
    )
    return task

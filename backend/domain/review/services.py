"""A team lead's review of a submitted record: approve it for forwarding, or return it.

Approval checks that the record is complete (every file it names has arrived, no signature went
stale) and writes the record's outbox messages in the same transaction as the new status, so a
record is approved exactly when its forwarding is queued. Both steps bump the task's change
sequence: the phones see the new status (and a return's reason) on their next pull.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import SyncMeta, Task, TaskAssignment, TaskStatus, User
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.auth.principal import Principal
from backend.domain.fields import Reason
from backend.domain.media.access import evidence_of
from backend.domain.media.storage import BlobStore
from backend.domain.sync.store import lock_counter
from backend.domain.tasks.queries import led_task_for_update
from backend.domain.upstream.messages import compose
from backend.errors import OwnRecord, RecordIncomplete, TaskNotReviewable


class Approval(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    """审核意见, kept in the audit trail."""


class Return(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason
    """退回原因: what the inspectors must correct; shown on their phones."""


class Reviewed(msgspec.Struct, kw_only=True):
    task_id: uuid.UUID
    status: str
    record_version: int | None = None
    """The version of the record queued for forwarding (approval only)."""
    messages: int = 0
    """How many messages to the platform were queued (files, the record, referrals)."""


def _must_be_submitted(task: Task, action: str) -> None:
    if task.status is not TaskStatus.SUBMITTED:
        raise TaskNotReviewable(
            f"只有已提交的任务才能{action}（当前状态：{task.status.value}）",
            task_status=task.status.value,
        )


async def _move(
    session: AsyncSession,
    audit: Audit,
    meta: SyncMeta,
    task: Task,
    to: TaskStatus,
    *,
    action: AuditAction,
    note: str | None,
    reason: str | None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> Reviewed:
    """The lead's step: the new status (with the reason the phones show, if any) as a synced
    change — the phones pull it — and its audit event."""
    before = task.status.value
    task.status = to
    task.review_note = note
    meta.seq += 1
    task.sync_version = meta.seq
    task.updated_at = audit.clock.now()
    await session.flush()
    audit.record(
        action,
        subject_kind="task",
        subject_id=task.id,
        task_id=task.id,
        reason=reason,
        before={"status": before},
        after={"status": to.value, **(after or {})},
        details=details,
    )
    return Reviewed(task_id=task.id, status=to.value)


async def approve(
    session: AsyncSession,
    audit: Audit,
    store: BlobStore,
    principal: Principal,
    task_id: uuid.UUID,
    approval: Approval,
) -> Reviewed:
    meta = await lock_counter(session)  # the status change is a synced write
    task = await led_task_for_update(session, principal.user_id, task_id)
    _must_be_submitted(task, "审核通过")
    if await session.scalar(
        select(TaskAssignment.user_id).where(
            TaskAssignment.task_id == task_id, TaskAssignment.user_id == principal.user_id
        )
    ):
        raise OwnRecord("不能审核自己参与检查的记录；请由检查组的其他负责人审核")
    evidence = await evidence_of(session, principal, task_id)
    stale = [s for s in evidence.signatures if s.stale]
    if evidence.missing or stale:
        raise RecordIncomplete(
            "记录不完整，不能审核通过："
            + "；".join(
                part
                for part in (
                    f"{len(evidence.missing)} 个文件尚未上传" if evidence.missing else "",
                    f"{len(stale)} 个签名在记录修改后已失效，需要重新签名" if stale else "",
                )
                if part
            ),
            missing_files=evidence.missing,
            stale_signatures=[str(s.record_id) for s in stale],
        )
    primary = await session.scalar(
        select(User)
        .join(TaskAssignment, TaskAssignment.user_id == User.id)
        .where(TaskAssignment.task_id == task_id, TaskAssignment.is_primary.is_(True))
    )
    if primary is None or not primary.platform_subject:
        raise TaskNotReviewable(
            "主检人员尚未关联统一身份账号，记录无法报送平台；请联系运维人员关联后再审核",
            primary_id=str(primary.id) if primary else None,
        )
    now = audit.clock.now()
    messages = await compose(
        session, principal, task_id, evidence, store, subject=primary.platform_subject, now=now
    )
    session.add_all(messages)
    version = messages[0].record_version
    reviewed = await _move(
        session,
        audit,
        meta,
        task,
        TaskStatus.APPROVED,
        action=AuditAction.RECORD_APPROVED,
        note=None,
        reason=approval.note,
        after={"record_version": version},
        details={
            "content_hash": evidence.content_hash,
            "messages": [m.idempotency_key for m in messages],
        },
    )
    reviewed.record_version, reviewed.messages = version, len(messages)
    return reviewed


REOPENABLE = frozenset({TaskStatus.FORWARDED, TaskStatus.PUBLISHED})


async def reopen(
    session: AsyncSession, audit: Audit, principal: Principal, task_id: uuid.UUID, change: Return
) -> Reviewed:
    """A correction after forwarding (更正): the inspectors may edit again; the next approval
    forwards the record as a new version with keys of its own (``record:{task}:v{n+1}``)."""
    meta = await lock_counter(session)
    task = await led_task_for_update(session, principal.user_id, task_id)
    if task.status not in REOPENABLE:
        raise TaskNotReviewable(
            f"只有已报送或已公示的任务才能更正（当前状态：{task.status.value}）",
            task_status=task.status.value,
        )
    return await _move(
        session,
        audit,
        meta,
        task,
        TaskStatus.REOPENED,
        action=AuditAction.RECORD_REOPENED,
        note=change.reason,
        reason=change.reason,
    )


async def return_record(
    session: AsyncSession, audit: Audit, principal: Principal, task_id: uuid.UUID, change: Return
) -> Reviewed:
    meta = await lock_counter(session)
    task = await led_task_for_update(session, principal.user_id, task_id)
    _must_be_submitted(task, "退回")
    return await _move(
        session,
        audit,
        meta,
        task,
        TaskStatus.RETURNED,
        action=AuditAction.RECORD_RETURNED,
        note=change.reason,
        reason=change.reason,
    )

"""What a team lead sees of the task import, and the release of a held task (放行).

A held task (imported but breaking a rule) waits for the lead of its team with the rule's
message; a held import (a feed task that could not become a task) with its reason. The lead
releases a held task by choosing its inspectors: the same rules as any assignment, refused
with the rule's message (422), or 409 when the task is not held.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import null, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import HeldImport, Plan, Task, TaskStatus, User
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.fields import Reason
from backend.domain.sync.store import lock_counter
from backend.domain.tasks.queries import led_task_for_update, led_team_ids
from backend.domain.tasks.reassignment import record_refusal
from backend.errors import DomainError, InvalidInput, TaskNotHeld
from backend.http.deps import AuditUnit, Caller, DbSession
from backend.http.security import requires_team_lead

from .importer import activate, check_task, requirements_of


class ProposedInspector(msgspec.Struct, kw_only=True):
    subject: str
    """The platform subject the feed named."""
    user_id: uuid.UUID | None
    """The person here with that subject (``None``: nobody has it)."""
    display_name: str | None
    is_primary: bool


class HeldTaskOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    name: str
    platform_ref: str | None
    platform_version: int | None
    team_id: uuid.UUID
    due_on: date
    hold_reason: str | None
    """The rule the task breaks as the platform sent it (why it is held)."""
    proposed: list[ProposedInspector]


class PendingChangeOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    status: str
    platform_ref: str | None
    change: dict[str, Any]
    """The platform's change that was not applied over local work (``platform_change_pending``)."""


class HeldImportOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    task_ref: str
    version: int
    reason: str
    team_id: uuid.UUID | None
    first_seen_at: datetime
    last_seen_at: datetime
    payload: dict[str, Any]


class ImportsOverview(msgspec.Struct, kw_only=True):
    held_tasks: list[HeldTaskOut]
    held_imports: list[HeldImportOut]
    pending_changes: list[PendingChangeOut]


class Release(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    inspector_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=20)]
    primary_inspector_id: uuid.UUID
    reason: Reason
    """Why the lead releases it this way (放行说明): kept in the history and the audit trail."""


class Released(msgspec.Struct, kw_only=True):
    task_id: uuid.UUID
    status: str


async def overview(session: AsyncSession, lead_id: uuid.UUID) -> ImportsOverview:
    """The held tasks and pending platform changes of the lead's teams, and the held imports
    of those teams or of no team (a feed task naming nobody known is shown to every lead)."""
    teams = led_team_ids(lead_id)
    held = (
        await session.scalars(
            select(Task)
            .where(Task.team_id.in_(teams), Task.status == TaskStatus.HELD)
            .order_by(Task.due_on, Task.code)
        )
    ).all()
    subjects = {
        s
        for t in held
        for s in [
            *(t.platform_task or {}).get("inspector_subjects", []),
            (t.platform_task or {}).get("primary_subject"),
        ]
        if s
    }
    people = {
        u.platform_subject: u
        for u in (
            await session.scalars(select(User).where(User.platform_subject.in_(subjects)))
        ).all()
    }
    pending = (
        await session.scalars(
            select(Task)
            .where(Task.team_id.in_(teams), Task.platform_change_pending.is_not(None))
            .order_by(Task.code)
        )
    ).all()
    imports = (
        await session.scalars(
            select(HeldImport)
            .where(
                HeldImport.resolved_at.is_(None),
                HeldImport.team_id.in_(teams) | HeldImport.team_id.is_(None),
            )
            .order_by(HeldImport.first_seen_at, HeldImport.task_ref)
        )
    ).all()
    return ImportsOverview(
        held_tasks=[_held(t, people) for t in held],
        held_imports=[
            HeldImportOut(
                id=h.id,
                task_ref=h.task_ref,
                version=h.version,
                reason=h.reason,
                team_id=h.team_id,
                first_seen_at=h.first_seen_at,
                last_seen_at=h.last_seen_at,
                payload=h.payload,
            )
            for h in imports
        ],
        pending_changes=[
            PendingChangeOut(
                id=t.id,
                code=t.code,
                status=t.status.value,
                platform_ref=t.platform_ref,
                change=t.platform_change_pending or {},
            )
            for t in pending
        ],
    )


def _held(task: Task, people: dict[str | None, User]) -> HeldTaskOut:
    feed = task.platform_task or {}
    primary = feed.get("primary_subject")
    proposed = []
    for subject in dict.fromkeys([*feed.get("inspector_subjects", []), primary]):
        if not subject:
            continue
        user = people.get(subject)
        proposed.append(
            ProposedInspector(
                subject=subject,
                user_id=user.id if user else None,
                display_name=user.display_name if user else None,
                is_primary=subject == primary,
            )
        )
    return HeldTaskOut(
        id=task.id,
        code=task.code,
        name=task.name,
        platform_ref=task.platform_ref,
        platform_version=task.platform_version,
        team_id=task.team_id,
        due_on=task.due_on,
        hold_reason=task.hold_reason,
        proposed=proposed,
    )


async def release_held_task(
    session: AsyncSession, audit: Audit, *, lead_id: uuid.UUID, task_id: uuid.UUID, change: Release
) -> Released:
    """Assign a held task of the lead's team and make it ``assigned``; refusals are recorded."""
    try:
        return await _release(session, audit, lead_id=lead_id, task_id=task_id, change=change)
    except DomainError as exc:
        record_refusal(audit, "release_task", task_id, change.reason, change.inspector_ids, exc)
        raise


async def _release(
    session: AsyncSession, audit: Audit, *, lead_id: uuid.UUID, task_id: uuid.UUID, change: Release
) -> Released:
    await lock_counter(session)  # the release is a synced write: the phones pull the task
    task = await led_task_for_update(session, lead_id, task_id)
    if task.status is not TaskStatus.HELD:
        raise TaskNotHeld(
            f"只有待处理（held）的任务才能放行（当前状态：{task.status.value}）",
            task_status=task.status.value,
        )
    pending = task.platform_change_pending
    if pending:
        raise TaskNotHeld(
            f"平台的第 {pending.get('version')} 版任务未能接收（{pending.get('reason')}）；"
            "本系统中的任务仍是旧版本，请平台更正后再放行",
            task_status=task.status.value,
        )
    proposed = set((task.platform_task or {}).get("inspector_subjects", []))
    members = set(
        (
            await session.scalars(
                select(User.id).where(
                    User.team_id.in_(led_team_ids(lead_id)) | User.platform_subject.in_(proposed)
                )
            )
        ).all()
    )
    outsiders = [i for i in change.inspector_ids if i not in members]
    if outsiders:
        raise InvalidInput(
            "只能指派本检查组的人员（或平台为本任务指定的检查人员）",
            inspector_ids=[str(i) for i in outsiders],
        )
    plan = await session.get(Plan, task.plan_id)
    assert plan is not None
    await check_task(
        session,
        audit.clock,
        plan=plan,
        issued_on=task.issued_on,
        due_on=task.due_on,
        object_id=task.object_id,
        lead_department_id=task.lead_department_id,
        requirements=await requirements_of(session, task.id),
        inspector_ids=change.inspector_ids,
        primary_id=change.primary_inspector_id,
    )
    await activate(
        session,
        audit,
        task,
        change.inspector_ids,
        change.primary_inspector_id,
        by_user_id=lead_id,
        action="released",
        reason=change.reason,
    )
    return Released(task_id=task.id, status=task.status.value)


class Acknowledgement(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason
    """What the lead did about the platform's change (e.g. agreed it with the platform)."""


class Acknowledged(msgspec.Struct, kw_only=True):
    task_id: uuid.UUID
    version: int | None
    """The platform version whose change was acknowledged."""


async def acknowledge_change(
    session: AsyncSession,
    audit: Audit,
    *,
    lead_id: uuid.UUID,
    task_id: uuid.UUID,
    change: Acknowledgement,
) -> Acknowledged:
    task = await led_task_for_update(session, lead_id, task_id)
    pending = task.platform_change_pending
    if not pending:
        raise InvalidInput("这个任务没有待处理的平台调整")
    task.platform_change_pending = null()
    await session.flush()
    audit.record(
        AuditAction.PLATFORM_CHANGE_ACKNOWLEDGED,
        subject_kind="task",
        subject_id=task.id,
        task_id=task.id,
        reason=change.reason,
        details={"platform_ref": task.platform_ref, "change": pending},
    )
    version = pending.get("version")
    return Acknowledged(task_id=task.id, version=version if isinstance(version, int) else None)


class TaskImportController(Controller):
    path = "/api/v1/team"
    tags = ["task import"]
    guards = [requires_team_lead]

    @get("/imports", operation_id="listTaskImports")
    async def list_imports(self, principal: Caller, db_session: DbSession) -> ImportsOverview:
        """The imported tasks waiting for the lead: held tasks with the rule they break, feed tasks
        that could not become tasks with the reason, and platform changes kept over local work."""
        return await overview(db_session, principal.user_id)

    @post("/tasks/{task_id:uuid}/release", operation_id="releaseHeldTask", status_code=HTTP_200_OK)
    async def release(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[Release],
        principal: Caller,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> Released:
        """Release a held task (放行) to the inspectors chosen: the assignment rules apply (422 with
        the rule's message), and a task that is not held answers 409."""
        return await release_held_task(
            db_session, audit, lead_id=principal.user_id, task_id=task_id, change=data
        )

    @post(
        "/tasks/{task_id:uuid}/platform-change/acknowledge",
        operation_id="acknowledgePlatformChange",
        status_code=HTTP_200_OK,
    )
    async def acknowledge(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[Acknowledgement],
        principal: Caller,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> Acknowledged:
        """Take a platform change kept for the lead off the list (已处理), saying what was done
        about it; the change itself is kept in the audit trail."""
        return await acknowledge_change(
            db_session, audit, lead_id=principal.user_id, task_id=task_id, change=data
        )

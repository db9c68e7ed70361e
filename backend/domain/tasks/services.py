"""Issuing tasks: the items from the published list, the object, the inspectors and the history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.db.models import (
    AssignmentHistoryEntry,
    ChecklistPoint,
    InspectionItem,
    InspectionItemVersion,
    InspectionObject,
    Plan,
    Task,
    TaskAssignment,
    TaskItem,
    TaskStatus,
)
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.deadlines import services as deadlines
from backend.domain.fields import Code, ItemCode, Name
from backend.domain.sync.services import create_server_records
from backend.errors import DomainError, InvalidInput, ItemNotListed

from .assignment import ItemRequirement, check_assignment


class NewTask(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A task to issue (下达任务)."""

    code: Code
    """任务编号"""
    name: Name
    plan_id: uuid.UUID
    batch_ref: Code | None = None
    object_id: uuid.UUID
    item_codes: Annotated[list[ItemCode], msgspec.Meta(min_length=1, max_length=30)]
    lead_department_id: uuid.UUID | None = None
    """Defaults to the department of the first item."""
    issued_on: date
    due_on: date
    inspector_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=20)]
    primary_inspector_id: uuid.UUID


class TaskService:
    def __init__(self, session: AsyncSession, clock: Clock, audit: Audit) -> None:
        self._session = session
        self._clock = clock
        self._audit = audit

    async def _listed_versions(self, codes: Sequence[str]) -> list[InspectionItemVersion]:
        if not codes:
            raise InvalidInput("任务至少需要一个检查事项")
        if len(set(codes)) != len(codes):
            raise InvalidInput("检查事项重复", item_codes=list(codes))
        rows = (
            await self._session.execute(
                select(InspectionItem, InspectionItemVersion)
                .join(
                    InspectionItemVersion,
                    (InspectionItemVersion.item_id == InspectionItem.id)
                    & (InspectionItemVersion.version == InspectionItem.current_version),
                )
                .where(InspectionItem.code.in_(codes))
            )
        ).all()
        found = {item.code: (item, version) for item, version in rows}
        not_listed = [c for c in codes if c not in found or not found[c][0].listed]
        if not_listed:
            raise ItemNotListed(
                "以下事项不在公布的抽查事项清单内（清单之外无检查）：" + "、".join(not_listed),
                item_codes=not_listed,
            )
        return [found[c][1] for c in codes]

    async def create_task(
        self, new: NewTask, *, team_id: uuid.UUID, by_user_id: uuid.UUID | None
    ) -> Task:
        """Issue a task and assign it; every rule is checked first and nothing is written on refusal.

        A refusal that a person asked for is itself recorded in the audit trail.
        """
        try:
            return await self._create_task(new, team_id=team_id, by_user_id=by_user_id)
        except DomainError as exc:
            if self._audit.actor.is_person:
                self._audit.record_after_response(
                    AuditAction.RULE_REFUSED,
                    subject_kind="task",
                    subject_id=new.code,
                    details={
                        "operation": "issue_task",
                        "error": exc.code,
                        "detail": exc.detail,
                        "inspector_ids": [str(i) for i in new.inspector_ids],
                        "item_codes": list(new.item_codes),
                    },
                )
            raise

    async def _create_task(
        self, new: NewTask, *, team_id: uuid.UUID, by_user_id: uuid.UUID | None
    ) -> Task:
        if new.due_on < new.issued_on:
            raise InvalidInput("截止日期不能早于下达日期")
        plan = await self._session.get(Plan, new.plan_id)
        if plan is None:
            raise InvalidInput("抽查计划不存在", plan_id=str(new.plan_id))
        if new.issued_on < plan.starts_on:
            raise InvalidInput(
                f"下达日期不能早于抽查计划的开始日期 {plan.starts_on.isoformat()}",
                plan_starts_on=plan.starts_on.isoformat(),
            )
        if new.due_on > plan.ends_on:
            raise InvalidInput(
                f"截止日期不能晚于抽查计划的结束日期 {plan.ends_on.isoformat()}",
                plan_ends_on=plan.ends_on.isoformat(),
            )
        if await self._session.get(InspectionObject, new.object_id) is None:
            raise InvalidInput("检查对象不存在", object_id=str(new.object_id))
        if await self._session.scalar(select(Task.id).where(Task.code == new.code)) is not None:
            raise InvalidInput(f"任务编号 {new.code} 已存在", code=new.code)

        versions = await self._listed_versions(new.item_codes)
        items = await self._session.scalars(
            select(InspectionItem).where(InspectionItem.id.in_([v.item_id for v in versions]))
        )
        department_of = {item.id: item.department_id for item in items}
        requirements = [
            ItemRequirement(
                code=code,
                name=v.name,
                department_id=department_of[v.item_id],
                qualification_area=v.qualification_area,
            )
            for code, v in zip(new.item_codes, versions, strict=True)
        ]
        await check_assignment(
            self._session,
            object_id=new.object_id,
            items=requirements,
            inspector_ids=new.inspector_ids,
            primary_id=new.primary_inspector_id,
            due_on=new.due_on,
        )
        item_departments = {r.department_id for r in requirements}
        lead_department_id = new.lead_department_id or requirements[0].department_id
        if lead_department_id not in item_departments:
            raise InvalidInput("牵头部门必须是本任务某一检查事项的所属部门")

        now = self._clock.now()
        task = Task(
            id=uuid.uuid4(),
            code=new.code,
            name=new.name,
            plan_id=plan.id,
            batch_ref=new.batch_ref,
            object_id=new.object_id,
            lead_department_id=lead_department_id,
            team_id=team_id,
            issued_on=new.issued_on,
            due_on=new.due_on,
            status=TaskStatus.ASSIGNED,
            created_at=now,
            updated_at=now,
        )
        deadlines.apply(
            task, plan, deadlines.EMPTY_CALENDAR
        )  # nothing checked yet: no working days needed
        try:
            async with (
                self._session.begin_nested()
            ):  # a concurrent issue of the same number loses here
                self._session.add(task)
                await self._session.flush()
        except IntegrityError as exc:
            raise InvalidInput(f"任务编号 {new.code} 已存在", code=new.code) from exc
        for ordinal, (version, requirement) in enumerate(zip(versions, requirements, strict=True)):
            self._session.add(
                TaskItem(
                    task_id=task.id,
                    item_version_id=version.id,
                    department_id=requirement.department_id,
                    ordinal=ordinal,
                )
            )
        assignments = [
            TaskAssignment(
                task_id=task.id,
                user_id=inspector_id,
                is_primary=inspector_id == new.primary_inspector_id,
                assigned_at=now,
            )
            for inspector_id in new.inspector_ids
        ]
        self._session.add_all(assignments)
        self._session.add(
            AssignmentHistoryEntry(
                task_id=task.id,
                ordinal=1,
                at=now,
                by_user_id=by_user_id,
                action="assigned",
                inspector_ids=[str(i) for i in new.inspector_ids],
                primary_id=new.primary_inspector_id,
                previous_inspector_ids=[],
                reason=None,
            )
        )
        point_ids = (
            await self._session.scalars(
                select(ChecklistPoint.id)
                .where(ChecklistPoint.item_version_id.in_([v.id for v in versions]))
                .order_by(ChecklistPoint.item_version_id, ChecklistPoint.ordinal)
            )
        ).all()
        await create_server_records(self._session, task, point_ids)
        for assignment_row in assignments:
            assignment_row.assigned_version = task.sync_version
        await self._session.flush()
        assignment = {
            "task_id": str(task.id),
            "inspector_ids": [str(i) for i in new.inspector_ids],
            "primary_id": str(new.primary_inspector_id),
        }
        self._audit.record(
            AuditAction.TASK_ASSIGNED,
            subject_kind="task",
            subject_id=task.id,
            task_id=task.id,
            after=assignment,
            details={
                **assignment,
                "code": task.code,
                "team_id": str(team_id),
                "item_codes": list(new.item_codes),
            },
        )
        return task

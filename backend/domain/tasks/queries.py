"""Reading tasks, always scoped to the caller.

An inspector sees the tasks they are assigned to, a team lead the tasks of the teams they
lead; anyone else's task is answered exactly like a task that does not exist.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.db.models import (
    AssignmentHistoryEntry,
    ChecklistPoint,
    Department,
    InspectionItem,
    InspectionItemVersion,
    InspectionObject,
    InspectorProfile,
    Role,
    Task,
    TaskAssignment,
    TaskItem,
    TaskStatus,
    Team,
    User,
)
from backend.db.paging import page_of
from backend.domain.auth.principal import Principal
from backend.domain.codes.services import current_code_tables
from backend.domain.deadlines.views import deadlines_of, light_for, local
from backend.errors import TaskNotFound
from sync import server_record_id

from .schemas import (
    AssignmentHistoryOut,
    ChecklistPointOut,
    InspectorRef,
    ObjectDetail,
    ObjectSummary,
    PlanRef,
    TaskDetail,
    TaskItemOut,
    TaskPage,
    TaskSummary,
)


def led_team_ids(user_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    return select(Team.id).where(Team.lead_id == user_id)


async def led_task_for_update(
    session: AsyncSession, lead_id: uuid.UUID, task_id: uuid.UUID
) -> Task:
    """A task of a team the lead leads, locked until commit; 404 for any other task."""
    task = await session.scalar(
        select(Task)
        .where(Task.id == task_id, Task.team_id.in_(led_team_ids(lead_id)))
        .with_for_update()
    )
    if task is None:
        raise TaskNotFound("任务不存在或不属于您的检查组", task_id=str(task_id))
    return task


def assigned_task_ids(user_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    return select(TaskAssignment.task_id).where(TaskAssignment.user_id == user_id)


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The tasks ``principal`` may read (inspectors: assigned; leads: their teams' and assigned)."""
    if principal.role is Role.TEAM_LEAD:
        return Task.team_id.in_(led_team_ids(principal.user_id)) | Task.id.in_(
            assigned_task_ids(principal.user_id)
        )
    if principal.role is Role.INSPECTOR:
        return Task.id.in_(assigned_task_ids(principal.user_id))
    return Task.id.is_(None)


async def ensure_visible(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> None:
    """404 unless ``principal`` may read the task (another user's task looks like no task)."""
    if (
        await session.scalar(select(Task.id).where(Task.id == task_id, visible_to(principal)))
        is None
    ):
        raise TaskNotFound("任务不存在或不属于您", task_id=str(task_id))


class TaskFilter:
    def __init__(
        self,
        *,
        statuses: Sequence[TaskStatus] = (),
        due_from: date | None = None,
        due_to: date | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> None:
        self.statuses = statuses
        self.due_from = due_from
        self.due_to = due_to
        self.limit = limit
        self.offset = offset

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.statuses:
            found.append(Task.status.in_(list(self.statuses)))
        if self.due_from is not None:
            found.append(Task.due_on >= self.due_from)
        if self.due_to is not None:
            found.append(Task.due_on <= self.due_to)
        return found


async def inspectors_of(
    session: AsyncSession, task_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[InspectorRef]]:
    rows = await session.execute(
        select(TaskAssignment, User, InspectorProfile, Department.name)
        .join(User, User.id == TaskAssignment.user_id)
        .join(Department, Department.id == User.department_id)
        .outerjoin(InspectorProfile, InspectorProfile.user_id == User.id)
        .where(TaskAssignment.task_id.in_(task_ids))
        .order_by(TaskAssignment.is_primary.desc(), User.display_name)
    )
    found: dict[uuid.UUID, list[InspectorRef]] = defaultdict(list)
    for assignment, user, profile, department_name in rows:
        found[assignment.task_id].append(
            InspectorRef(
                id=user.id,
                display_name=user.display_name,
                is_primary=assignment.is_primary,
                department_name=department_name,
                certificate_no=profile.certificate_no if profile else None,
                certificate_valid_until=profile.certificate_valid_until if profile else None,
            )
        )
    return found


async def list_tasks(
    session: AsyncSession, scope: ColumnElement[bool], flt: TaskFilter, *, now: datetime
) -> TaskPage:
    conditions = [scope, *flt.conditions()]
    total, tasks = await page_of(
        session,
        Task,
        conditions,
        order_by=[Task.due_on, Task.code],
        limit=flt.limit,
        offset=flt.offset,
        options=[selectinload(Task.object), selectinload(Task.plan)],
    )
    ids = [t.id for t in tasks]
    inspectors = await inspectors_of(session, ids)
    item_stats = {
        task_id: (count, departments)
        for task_id, count, departments in await session.execute(
            select(
                TaskItem.task_id, func.count(), func.count(func.distinct(TaskItem.department_id))
            )
            .where(TaskItem.task_id.in_(ids))
            .group_by(TaskItem.task_id)
        )
    }
    return TaskPage(
        items=[
            TaskSummary(
                id=t.id,
                code=t.code,
                name=t.name,
                status=t.status.value,
                issued_on=t.issued_on,
                due_on=t.due_on,
                overdue=(light := light_for(t, t.plan, now)).color == "red",
                light=light,
                deadlines=deadlines_of(t),
                is_joint=item_stats.get(t.id, (0, 0))[1] > 1,
                item_count=item_stats.get(t.id, (0, 0))[0],
                object=ObjectSummary(
                    id=t.object.id, name=t.object.name, uscc=t.object.uscc, address=t.object.address
                ),
                inspectors=inspectors.get(t.id, []),
                updated_at=t.updated_at,
            )
            for t in tasks
        ],
        total=total,
        limit=flt.limit,
        offset=flt.offset,
    )


def object_detail(obj: InspectionObject) -> ObjectDetail:
    return ObjectDetail(
        id=obj.id,
        uscc=obj.uscc,
        name=obj.name,
        kind=obj.kind.value,
        address=obj.address,
        legal_representative=obj.legal_representative,
        legal_representative_phone=obj.legal_representative_phone,
        contact_person=obj.contact_person,
        contact_phone=obj.contact_phone,
        industry=obj.industry,
        risk_level=obj.risk_level,
        credit_class=obj.credit_class,
        latitude=obj.latitude,
        longitude=obj.longitude,
    )


async def task_items(
    session: AsyncSession, task_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[TaskItemOut]]:
    """The items of many tasks, each with the checklist of the version it was issued with (few queries)."""
    if not task_ids:
        return {}
    rows = (
        await session.execute(
            select(TaskItem, InspectionItemVersion, InspectionItem.code, Department.name)
            .join(InspectionItemVersion, InspectionItemVersion.id == TaskItem.item_version_id)
            .join(InspectionItem, InspectionItem.id == InspectionItemVersion.item_id)
            .join(Department, Department.id == TaskItem.department_id)
            .where(TaskItem.task_id.in_(task_ids))
            .order_by(TaskItem.task_id, TaskItem.ordinal)
        )
    ).all()
    version_ids = {version.id for _, version, _, _ in rows}
    points: dict[uuid.UUID, list[ChecklistPoint]] = defaultdict(list)
    for point in (
        await session.scalars(
            select(ChecklistPoint)
            .where(ChecklistPoint.item_version_id.in_(version_ids))
            .order_by(ChecklistPoint.item_version_id, ChecklistPoint.ordinal)
        )
    ).all():
        points[point.item_version_id].append(point)
    found: dict[uuid.UUID, list[TaskItemOut]] = defaultdict(list)
    for task_item, version, code, department_name in rows:
        found[task_item.task_id].append(
            TaskItemOut(
                item_code=code,
                item_version=version.version,
                name=version.name,
                basis=version.basis,
                category=version.category.value,
                method=version.method,
                qualification_area=version.qualification_area,
                department_id=task_item.department_id,
                department_name=department_name,
                checklist=[
                    ChecklistPointOut(
                        id=p.id,
                        check_item_id=server_record_id(task_item.task_id, "check_item", str(p.id)),
                        ordinal=p.ordinal,
                        content=p.content,
                        method=p.method,
                        default_problem_text=p.default_problem_text,
                    )
                    for p in points[version.id]
                ],
            )
        )
    return found


async def get_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, *, now: datetime
) -> TaskDetail:
    task = await session.scalar(
        select(Task)
        .where(Task.id == task_id, visible_to(principal))
        .options(
            selectinload(Task.object),
            selectinload(Task.plan),
            selectinload(Task.lead_department),
            selectinload(Task.items),
        )
    )
    if task is None:
        raise TaskNotFound("任务不存在或不属于您", task_id=str(task_id))
    history = await session.scalars(
        select(AssignmentHistoryEntry)
        .where(AssignmentHistoryEntry.task_id == task.id)
        .order_by(AssignmentHistoryEntry.ordinal)
    )
    return TaskDetail(
        id=task.id,
        code=task.code,
        name=task.name,
        status=task.status.value,
        issued_on=task.issued_on,
        due_on=task.due_on,
        overdue=(light := light_for(task, task.plan, now)).color == "red",
        light=light,
        deadlines=deadlines_of(task),
        checked_in_at=local(task.checked_in_at),
        checked_at=local(task.checked_at),
        results_entered_at=local(task.results_entered_at),
        published_at=local(task.published_at),
        is_joint=task.is_joint,
        batch_ref=task.batch_ref,
        plan=PlanRef(
            id=task.plan.id,
            code=task.plan.code,
            name=task.plan.name,
            starts_on=task.plan.starts_on,
            ends_on=task.plan.ends_on,
        ),
        lead_department_id=task.lead_department_id,
        lead_department_name=task.lead_department.name,
        object=object_detail(task.object),
        items=(await task_items(session, [task.id])).get(task.id, []),
        inspectors=(await inspectors_of(session, [task.id])).get(task.id, []),
        assignment_history=[
            AssignmentHistoryOut(
                at=h.at,
                action=h.action,
                by_user_id=h.by_user_id,
                inspector_ids=h.inspector_ids,
                primary_id=h.primary_id,
                previous_inspector_ids=h.previous_inspector_ids,
                reason=h.reason,
            )
            for h in history
        ],
        code_tables=await current_code_tables(session),
        updated_at=task.updated_at,
    )

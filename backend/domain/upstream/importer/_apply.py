"""One feed item: a new task created (assigned or held), a held import, or a withdrawal.

Changes to a task already taken in are ``_Changes`` (``_changes.py``), which ``_Apply`` inherits.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.db.models import (
    Department,
    HeldImport,
    InspectionItemVersion,
    InspectionObject,
    Plan,
    SyncMeta,
    Task,
    TaskItem,
    TaskStatus,
    User,
)
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.deadlines import services as deadlines
from backend.domain.objects.services import check_uscc
from backend.domain.tasks.assignment import ItemRequirement
from backend.domain.tasks.services import TaskService
from backend.errors import DomainError, InvalidInput

from ._changes import _Changes
from ._feed import FeedItem, FeedObject, FeedTask, _ItemKey
from ._report import ImportReport, Unresolvable
from ._rules import _captured, _departments_of, _kind_of, activate, check_task

WITHDRAWABLE = frozenset(
    {
        TaskStatus.HELD,
        TaskStatus.ASSIGNED,
        TaskStatus.IN_PROGRESS,
        TaskStatus.SUBMITTED,
        TaskStatus.RETURNED,
    }
)


@dataclass
class _Resolved:
    """A feed task in this system's terms."""

    plan: Plan
    object_id: uuid.UUID
    department_id: uuid.UUID
    versions: list[InspectionItemVersion]
    requirements: list[ItemRequirement]
    inspector_ids: list[uuid.UUID]
    primary_id: uuid.UUID | None
    unknown_subjects: list[str]
    team_id: uuid.UUID


class _Apply(_Changes):
    def __init__(
        self,
        session: AsyncSession,
        audit: Audit,
        meta: SyncMeta,
        clock: Clock,
        report: ImportReport,
    ) -> None:
        self.session = session
        self.audit = audit
        self.meta = meta
        self.clock = clock
        self.report = report

    def _bump(self) -> int:
        self.meta.seq += 1
        return self.meta.seq

    def _record(
        self,
        outcome: str,
        ref: str,
        version: int,
        *,
        task: Task | None = None,
        held: HeldImport | None = None,
        reason: str | None = None,
        **details: Any,
    ) -> None:
        self.report.outcomes.append((ref, version, outcome))
        self.audit.record(
            AuditAction.TASK_IMPORTED,
            subject_kind="task" if task is not None else "held_import",
            subject_id=task.id if task is not None else (held.id if held else ref),
            task_id=task.id if task is not None else None,
            reason=reason[:500] if reason else None,
            after={"status": task.status.value} if task is not None else None,
            details={"task_ref": ref, "version": version, "outcome": outcome, **details},
        )

    async def item(self, raw: bytes) -> None:
        try:
            item = msgspec.json.decode(raw, type=FeedItem)
        except msgspec.DecodeError as exc:
            await self._malformed(raw, exc)
            return
        task = await self.session.scalar(
            select(Task).where(Task.platform_ref == item.task_ref).with_for_update()
        )
        held = await self.session.scalar(
            select(HeldImport).where(HeldImport.task_ref == item.task_ref)
        )
        known = task.platform_version if task is not None else (held.version if held else None)
        if known is not None and item.version <= known:
            self.report.ignored += 1
            return
        if item.state == "withdrawn":
            await self._withdraw(item, task, held)
        elif task is None:
            assert item.task is not None
            try:
                task = await self._create(item.task_ref, item.version, item.task)
            except Unresolvable as exc:
                await self._hold_import(
                    item.task_ref, item.version, msgspec.to_builtins(item), exc.reason, exc.team_id
                )
                return
        else:
            assert item.task is not None
            await self._change(task, item.version, item.task)
        if held is not None and held.resolved_at is None and task is not None:
            held.resolved_at = self.clock.now()
            held.resolution = "imported"
            held.task_id = task.id

    async def _malformed(self, raw: bytes, exc: Exception) -> None:
        try:
            key = msgspec.json.decode(raw, type=_ItemKey)
            ref, version = key.task_ref, key.version
        except msgspec.DecodeError:
            ref, version = f"malformed:{hashlib.sha256(raw).hexdigest()[:40]}", 0
        held = await self.session.scalar(select(HeldImport).where(HeldImport.task_ref == ref))
        if held is not None and version <= held.version:
            self.report.ignored += 1
            return
        task = await self.session.scalar(select(Task).where(Task.platform_ref == ref))
        if (
            task is not None
            and task.platform_version is not None
            and version <= task.platform_version
        ):
            self.report.ignored += 1
            return
        text = raw.decode("utf-8", "replace")[:20_000]
        await self._hold_import(
            ref,
            version,
            {"raw": text},
            f"平台任务数据格式错误：{exc}",
            task.team_id if task else None,
        )

    async def _hold_import(
        self,
        ref: str,
        version: int,
        payload: dict[str, Any],
        reason: str,
        team_id: uuid.UUID | None,
    ) -> None:
        now = self.clock.now()
        held = await self.session.scalar(select(HeldImport).where(HeldImport.task_ref == ref))
        if held is None:
            held = HeldImport(id=uuid.uuid4(), task_ref=ref, first_seen_at=now)
            self.session.add(held)
        held.version = version
        held.payload = payload
        held.reason = reason
        held.last_seen_at = now
        held.resolved_at = None
        held.resolution = None
        held.team_id = team_id
        await self.session.flush()
        self.report.held_imports += 1
        self._record("held_import", ref, version, held=held, reason=reason)

    # new tasks -------------------------------------------------------------------------------

    async def _create(self, ref: str, version: int, feed: FeedTask) -> Task:
        r = await self._resolve(ref, feed, team_id=None)
        now = self.clock.now()
        task = Task(
            id=uuid.uuid4(),
            code=feed.code,
            name=feed.name,
            plan_id=r.plan.id,
            object_id=r.object_id,
            lead_department_id=r.department_id,
            team_id=r.team_id,
            issued_on=feed.issued_on,
            due_on=feed.due_on,
            status=TaskStatus.HELD,
            created_at=now,
            updated_at=now,
            platform_ref=ref,
            platform_version=version,
            platform_task=msgspec.to_builtins(feed),
        )
        deadlines.apply(task, r.plan, deadlines.EMPTY_CALENDAR)
        self.session.add(task)
        await self.session.flush()
        await self._set_items(task, r.versions)
        problem = await self._problem(feed, r)
        if problem is None:
            assert r.primary_id is not None
            await activate(
                self.session,
                self.audit,
                task,
                r.inspector_ids,
                r.primary_id,
                by_user_id=None,
                action="imported",
                reason=None,
            )
            self.report.assigned += 1
            self._record("assigned", ref, version, task=task, code=task.code)
        else:
            task.hold_reason = problem
            self.report.held += 1
            self._record("held", ref, version, task=task, reason=problem, code=task.code)
        return task

    async def _resolve(self, ref: str, feed: FeedTask, *, team_id: uuid.UUID | None) -> _Resolved:
        session = self.session
        department = await session.scalar(
            select(Department).where(Department.code == feed.department_code)
        )
        if department is None:
            raise Unresolvable(f"牵头部门 {feed.department_code} 在本系统中不存在")
        clash = await session.scalar(
            select(Task.id).where(
                Task.code == feed.code, (Task.platform_ref != ref) | Task.platform_ref.is_(None)
            )
        )
        if clash is not None:
            raise Unresolvable(f"任务编号 {feed.code} 已被本系统的另一任务使用")
        users = (
            await session.scalars(
                select(User).where(
                    User.platform_subject.in_([*feed.inspector_subjects, feed.primary_subject])
                )
            )
        ).all()
        by_subject = {u.platform_subject: u for u in users}
        known = [by_subject[s] for s in feed.inspector_subjects if s in by_subject]
        primary = by_subject.get(feed.primary_subject)
        if team_id is None:
            team_id = next(
                (u.team_id for u in ([primary] if primary else []) + known if u.team_id), None
            )
        if team_id is None:
            raise Unresolvable(
                "无法确定任务所属的检查组：主检人员及其他检查人员在本系统中均无对应账号或检查组"
            )
        try:
            versions = await TaskService(session, self.clock, self.audit)._listed_versions(
                feed.item_codes
            )
            check_uscc(feed.object.uscc)
        except DomainError as exc:
            raise Unresolvable(exc.detail, team_id) from exc
        plan = await session.scalar(select(Plan).where(Plan.code == feed.plan.code))
        if plan is None:
            if feed.plan.starts_on > feed.plan.ends_on:
                raise Unresolvable(f"抽查计划 {feed.plan.code} 的开始日期晚于结束日期", team_id)
            plan = Plan(
                id=uuid.uuid4(),
                code=feed.plan.code,
                name=feed.plan.name,
                department_id=department.id,
                starts_on=feed.plan.starts_on,
                ends_on=feed.plan.ends_on,
                created_at=self.clock.now(),
            )
            session.add(plan)
        object_id = await self._object(feed.object)
        await session.flush()
        departments = await _departments_of(session, versions)
        return _Resolved(
            plan=plan,
            object_id=object_id,
            department_id=department.id,
            versions=versions,
            requirements=[
                ItemRequirement(
                    code=code,
                    name=v.name,
                    department_id=departments[v.item_id],
                    qualification_area=v.qualification_area,
                )
                for code, v in zip(feed.item_codes, versions, strict=True)
            ],
            inspector_ids=[u.id for u in known],
            primary_id=primary.id if primary else None,
            unknown_subjects=[
                s
                for s in dict.fromkeys([*feed.inspector_subjects, feed.primary_subject])
                if s not in by_subject
            ],
            team_id=team_id,
        )

    async def _object(self, feed: FeedObject) -> uuid.UUID:
        """The object by its 统一社会信用代码: created, or brought up to the platform's facts."""
        obj = await self.session.scalar(
            select(InspectionObject).where(InspectionObject.uscc == feed.uscc)
        )
        facts = {
            "name": feed.name,
            "address": feed.address,
            "legal_representative": feed.legal_representative,
        }
        if feed.phone:
            facts["contact_phone"] = feed.phone
        if obj is None:
            obj = InspectionObject(
                id=uuid.uuid4(),
                uscc=feed.uscc,
                kind=_kind_of(feed.uscc),
                created_at=self.clock.now(),
                **facts,
            )
            self.session.add(obj)
            await self.session.flush()
            self.audit.record(
                AuditAction.OBJECT_REGISTERED,
                subject_kind="inspection_object",
                subject_id=obj.id,
                after={**facts, "uscc": obj.uscc, "kind": obj.kind.value},
                details={"uscc": obj.uscc, "name": obj.name, "source": "platform"},
            )
        elif any(getattr(obj, k) != v for k, v in facts.items()):
            for k, v in facts.items():
                setattr(obj, k, v)
            obj.updated_at = self.clock.now()
        return obj.id

    async def _set_items(self, task: Task, versions: list[InspectionItemVersion]) -> None:
        await self.session.execute(delete(TaskItem).where(TaskItem.task_id == task.id))
        departments = await _departments_of(self.session, versions)
        self.session.add_all(
            TaskItem(
                task_id=task.id,
                item_version_id=v.id,
                department_id=departments[v.item_id],
                ordinal=n,
            )
            for n, v in enumerate(versions)
        )
        await self.session.flush()

    async def _problem(self, feed: FeedTask, r: _Resolved) -> str | None:
        """The first rule the feed task breaks with the platform's inspectors, or ``None``."""
        try:
            await self._check(feed, r)
        except DomainError as exc:
            return exc.detail
        return None

    async def _check(self, feed: FeedTask, r: _Resolved) -> None:
        """Raise the first rule the feed task breaks; write nothing."""
        if r.unknown_subjects:
            raise InvalidInput(
                "以下检查人员的统一身份账号在本系统中没有对应人员："
                + "、".join(r.unknown_subjects),
                subjects=r.unknown_subjects,
            )
        assert r.primary_id is not None
        await check_task(
            self.session,
            self.clock,
            plan=r.plan,
            issued_on=feed.issued_on,
            due_on=feed.due_on,
            object_id=r.object_id,
            lead_department_id=r.department_id,
            requirements=r.requirements,
            inspector_ids=r.inspector_ids,
            primary_id=r.primary_id,
        )

    # withdrawals -----------------------------------------------------------------------------

    async def _withdraw(self, item: FeedItem, task: Task | None, held: HeldImport | None) -> None:
        now = self.clock.now()
        if task is None:
            if held is None or held.resolved_at is not None:
                self.report.ignored += 1
                return
            held.version = item.version
            held.resolved_at = held.last_seen_at = now
            held.resolution = "withdrawn"
            self.report.withdrawn += 1
            self._record("held_import_withdrawn", item.task_ref, item.version, held=held)
            return
        task.platform_version = item.version
        if task.status in WITHDRAWABLE:
            before = task.status.value
            # the platform wins, but work already captured is kept (later pushes become late
            # amendments) and flagged, so the lead knows what the withdrawal overtook
            under_way = task.status is not TaskStatus.HELD and (
                task.status is not TaskStatus.ASSIGNED or await _captured(self.session, task)
            )
            task.status = TaskStatus.WITHDRAWN
            task.sync_version = self._bump()
            task.updated_at = now
            if under_way:
                task.platform_change_pending = {
                    "version": item.version,
                    "at": now.isoformat(),
                    "reason": f"平台撤回了已开始检查的任务（撤回前：{before}）；已采集的记录保留，请组长核实后处理",
                    "withdrawn": True,
                    "changes": {"status": {"from": before, "to": "withdrawn"}},
                }
            self.report.withdrawn += 1
            self._record(
                "withdrawn",
                item.task_ref,
                item.version,
                task=task,
                previous=before,
                work_under_way=under_way,
            )
            return
        task.platform_change_pending = {
            "version": item.version,
            "at": now.isoformat(),
            "reason": f"平台已撤回该任务，但任务已{task.status.value}，状态未变，请组长处理",
            "withdrawn": True,
            "changes": {},
        }
        self.report.flagged += 1
        self._record(
            "withdrawal_flagged",
            item.task_ref,
            item.version,
            task=task,
            reason=task.platform_change_pending["reason"],
        )

"""Changes to a task already taken in: a held task re-checked, an untouched one changed whole,
one with work under way changed in name and due date only (the rest waits for the lead)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import delete, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.clock import Clock, local_today
from backend.db.models import (
    HeldImport,
    InspectionItemVersion,
    Plan,
    SyncRecord,
    Task,
    TaskAssignment,
    TaskRevocation,
    TaskStatus,
    User,
)
from backend.domain.audit.service import Audit
from backend.domain.deadlines import services as deadlines
from backend.domain.tasks.reassignment import append_history
from backend.errors import DomainError
from sync import server_record_id

from ._feed import FeedTask
from ._report import ImportReport, Unresolvable
from ._rules import _calendar, _captured, _point_ids, _snapshot, _wanted, activate

if TYPE_CHECKING:
    from ._apply import _Resolved


REACTIVATED = "平台重新下发了此前撤回的任务；本系统中的任务已撤回，请组长与平台核实后重新下达"


class _Changes:
    """The part of ``_Apply`` that takes a newer version of a task already here."""

    session: AsyncSession
    audit: Audit
    clock: Clock
    report: ImportReport

    if TYPE_CHECKING:  # defined by ``_Apply``

        def _bump(self) -> int: ...

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
        ) -> None: ...

        async def _resolve(
            self, ref: str, feed: FeedTask, *, team_id: uuid.UUID | None
        ) -> _Resolved: ...

        async def _set_items(self, task: Task, versions: list[InspectionItemVersion]) -> None: ...

        async def _problem(self, feed: FeedTask, r: _Resolved) -> str | None: ...

        async def _check(self, feed: FeedTask, r: _Resolved) -> None: ...

    async def _change(self, task: Task, version: int, feed: FeedTask) -> None:
        ref = task.platform_ref or ""
        task.platform_version = version
        task.platform_task = msgspec.to_builtins(feed)
        if task.status is TaskStatus.HELD:
            await self._recheck(task, version, feed)
            return
        if task.status is TaskStatus.WITHDRAWN:
            # withdrawn is final here (its phones have let it go): the lead decides what now
            task.platform_change_pending = {
                "version": version,
                "at": self.clock.now().isoformat(),
                "reason": REACTIVATED,
                "changes": {"status": {"from": "withdrawn", "to": "active"}},
            }
            task.updated_at = self.clock.now()
            self.report.flagged += 1
            self._record("flagged", ref, version, task=task, reason=REACTIVATED, pending=["status"])
            return
        captured = task.status is not TaskStatus.ASSIGNED or await _captured(self.session, task)
        before = await _snapshot(self.session, task)
        wanted = _wanted(feed)
        changed = {k for k in wanted if before.get(k) != wanted[k]}
        if not changed:
            await self._clear_pending(task)  # the platform's task is the one here again
            self.report.ignored += 1
            return
        reason = None
        if not captured:
            try:
                await self._apply_all(task, feed, changed)
                await self._clear_pending(task)
                self.report.updated += 1
                self._record("updated", ref, version, task=task, changed=sorted(changed))
                return
            except Unresolvable as exc:
                reason = exc.reason
            except DomainError as exc:
                reason = exc.detail
        # keep the local work: the name and the due date change, the rest waits for the lead
        if "name" in changed:
            task.name = feed.name
        applied = {"name"}
        if "due_on" in changed:
            problem = await self._due_problem(task, feed.due_on)
            if problem is None:
                task.due_on = feed.due_on
                plan = await self.session.get(Plan, task.plan_id)
                assert plan is not None
                deadlines.apply(task, plan, await _calendar(self.session, task))
                applied.add("due_on")
            else:
                reason = reason or problem
        rest = changed - applied
        if rest:
            task.platform_change_pending = {
                "version": version,
                "at": self.clock.now().isoformat(),
                "reason": reason or "任务已开始检查，平台的其他调整需由组长处理",
                "changes": {k: {"from": before.get(k), "to": wanted[k]} for k in sorted(rest)},
            }
        else:
            await self._clear_pending(task)
        task.sync_version = self._bump()
        task.updated_at = self.clock.now()
        if rest:
            self.report.flagged += 1
            self._record(
                "flagged",
                ref,
                version,
                task=task,
                reason=task.platform_change_pending["reason"]
                if task.platform_change_pending
                else None,
                applied=sorted(changed - rest),
                pending=sorted(rest),
            )
        else:
            self.report.updated += 1
            self._record("updated", ref, version, task=task, changed=sorted(changed))

    async def _clear_pending(self, task: Task) -> None:
        """Nothing of the platform's waits for the lead any more (a newer version took it back,
        or it was applied): SQL NULL, not JSON ``null``, which the lead's list would still show."""
        if task.platform_change_pending is None:
            return
        task.platform_change_pending = null()
        await self.session.flush()
        await self.session.refresh(task, ["platform_change_pending"])

    async def _due_problem(self, task: Task, due_on: date) -> str | None:
        """The rule a new due date breaks for the task as it stands here (its plan, its
        inspectors' 执法证), or ``None``: a due date the rules refuse is never applied."""
        plan = await self.session.get(Plan, task.plan_id)
        assert plan is not None
        if due_on < task.issued_on:
            return "截止日期不能早于下达日期"
        if due_on > plan.ends_on:
            return f"截止日期不能晚于抽查计划的结束日期 {plan.ends_on.isoformat()}"
        if due_on < local_today(self.clock):
            return f"截止日期 {due_on.isoformat()} 已过，请平台调整截止日期"
        people = (
            await self.session.scalars(
                select(User)
                .join(TaskAssignment, TaskAssignment.user_id == User.id)
                .where(TaskAssignment.task_id == task.id)
                .options(selectinload(User.profile))
            )
        ).all()
        expired = [
            u.display_name
            for u in people
            if u.profile is not None and not u.profile.certificate_valid_on(due_on)
        ]
        if expired:
            return f"以下人员的执法证在截止日期 {due_on.isoformat()} 不在有效期内：" + "、".join(
                sorted(expired)
            )
        return None

    async def _recheck(self, task: Task, version: int, feed: FeedTask) -> None:
        ref = task.platform_ref or ""
        try:
            r = await self._resolve(ref, feed, team_id=task.team_id)
        except Unresolvable as exc:
            task.name, task.due_on = feed.name, feed.due_on
            plan = await self.session.get(Plan, task.plan_id)
            assert plan is not None
            deadlines.apply(task, plan, deadlines.EMPTY_CALENDAR)  # they follow the due date
            task.hold_reason = exc.reason
            # the task here still stands as an older version: the lead may not release that
            task.platform_change_pending = {
                "version": version,
                "at": self.clock.now().isoformat(),
                "reason": exc.reason,
                "changes": {},
            }
            self.report.held += 1
            self._record("held", ref, version, task=task, reason=exc.reason)
            return
        await self._clear_pending(task)  # this version is the one the task now stands as
        task.name, task.issued_on, task.due_on = feed.name, feed.issued_on, feed.due_on
        task.plan_id, task.object_id, task.lead_department_id = (
            r.plan.id,
            r.object_id,
            r.department_id,
        )
        task.updated_at = self.clock.now()
        deadlines.apply(task, r.plan, deadlines.EMPTY_CALENDAR)
        await self._set_items(task, r.versions)
        problem = await self._problem(feed, r)
        if problem is not None:
            task.hold_reason = problem
            self.report.held += 1
            self._record("held", ref, version, task=task, reason=problem)
            return
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
        self._record("released", ref, version, task=task)

    async def _apply_all(self, task: Task, feed: FeedTask, changed: set[str]) -> None:
        """Every change to an assigned task with nothing captured; refused as a whole by a rule."""
        ref = task.platform_ref or ""
        r = await self._resolve(ref, feed, team_id=task.team_id)
        await self._check(feed, r)  # refuses before anything of the task changes
        assert r.primary_id is not None
        await self._clear_pending(task)  # this version is the one the task now stands as
        task.name, task.issued_on, task.due_on = feed.name, feed.issued_on, feed.due_on
        task.plan_id, task.object_id, task.lead_department_id = (
            r.plan.id,
            r.object_id,
            r.department_id,
        )
        old_points = set(await _point_ids(self.session, task.id))
        if "item_codes" in changed:
            await self._set_items(task, r.versions)
        now = self.clock.now()
        deadlines.apply(task, r.plan, deadlines.EMPTY_CALENDAR)
        whole = False
        if "item_codes" in changed:
            new_points = set(await _point_ids(self.session, task.id))
            for point in sorted(old_points - new_points, key=str):
                record = await self.session.get(
                    SyncRecord, ("check_item", server_record_id(task.id, "check_item", str(point)))
                )
                if record is not None:
                    record.deleted = True
                    record.version = self._bump()
            for point in sorted(new_points - old_points, key=str):
                rid = server_record_id(task.id, "check_item", str(point))
                record = await self.session.get(SyncRecord, ("check_item", rid))
                if record is None:
                    self.session.add(
                        SyncRecord(
                            entity="check_item",
                            id=rid,
                            task_id=task.id,
                            fields={},
                            version=self._bump(),
                            deleted=False,
                        )
                    )
                else:
                    record.deleted, record.version = False, self._bump()
            whole = True  # the phones take the task whole again, with its new checklist
        current = (
            await self.session.scalars(
                select(TaskAssignment).where(TaskAssignment.task_id == task.id)
            )
        ).all()
        previous = {a.user_id: a for a in current}
        previous_primary = next((a.user_id for a in current if a.is_primary), None)
        wanted = list(dict.fromkeys(r.inspector_ids))
        reassigned = set(previous) != set(wanted) or previous_primary != r.primary_id
        if reassigned:
            await self.session.execute(
                delete(TaskAssignment).where(TaskAssignment.task_id == task.id)
            )
            await self.session.flush()
            for user_id in sorted(set(previous) - set(wanted), key=str):
                self.session.add(
                    TaskRevocation(
                        id=uuid.uuid4(),
                        task_id=task.id,
                        user_id=user_id,
                        version=self._bump(),
                        at=now,
                    )
                )
        task.sync_version = self._bump()
        task.updated_at = now
        if reassigned:
            self.session.add_all(
                TaskAssignment(
                    task_id=task.id,
                    user_id=user_id,
                    is_primary=user_id == r.primary_id,
                    assigned_at=previous[user_id].assigned_at if user_id in previous else now,
                    assigned_version=(
                        previous[user_id].assigned_version
                        if user_id in previous and not whole
                        else task.sync_version
                    ),
                )
                for user_id in wanted
            )
            await append_history(
                self.session,
                task,
                now,
                by_user_id=None,
                action="platform",
                inspector_ids=wanted,
                primary_id=r.primary_id,
                previous=sorted(str(i) for i in previous),
                reason="平台调整检查人员",
            )
        elif whole:
            for a in current:
                a.assigned_version = task.sync_version
        await self.session.flush()

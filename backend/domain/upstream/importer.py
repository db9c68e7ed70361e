"""Task import: the main platform's task feed, taken in page by page, nothing dropped.

Each round reads the feed from the stored cursor until it says ``more: false`` (at most
``max_pages`` pages) and applies every page **in one transaction together with its cursor**:
a crash re-reads the page, and the upsert is idempotent by ``(task_ref, version)`` — an older
or equal version than the one taken in is ignored. What an item becomes:

* a new active task is checked against the same rules as a task issued here (the published
  list, two qualified inspectors, the primary, recusal, valid 执法证, the plan's dates, and a
  due date not already past) and created ``assigned`` like an issued task; one that breaks a
  rule is created ``held`` with the rule's message in ``hold_reason`` and **no assignments**,
  so no phone receives it (the pull reads a user's tasks from their assignments) — the
  platform's inspectors stay in ``platform_task`` for the lead, who releases it
  (``release_held_task``) or waits for a corrected version;
* a feed task that cannot become a task at all (unlisted items, an unknown department, a bad
  统一社会信用代码, a malformed item…) is kept as a ``HeldImport`` with the reason;
* a changed task: a held one is re-checked (and released when it now passes); an assigned one
  with nothing captured takes every change (inspectors with revocations, items with tombstones);
  with work under way only the name and due date change and the rest waits for the lead in
  ``platform_change_pending`` (DESIGN §7: the platform wins, except over pending local work);
* a withdrawn task becomes ``withdrawn`` (phones pull it so), or, once approved or later, the
  withdrawal is kept for the lead and the status left alone.

Every outcome is audited as ``task_imported`` by the system with the task's ref, version and
``outcome``. A feed error (401 after one renewal, 403, 429, 5xx, the network) ends the round
with nothing changed; the next round starts from the same cursor.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
import msgspec
from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock, local_today
from backend.db.engine import write_intent
from backend.db.models import (
    AssignmentHistoryEntry,
    ChecklistPoint,
    Department,
    HeldImport,
    InspectionItem,
    InspectionItemVersion,
    InspectionObject,
    MutationLogEntry,
    ObjectKind,
    Plan,
    SyncMeta,
    SyncRecord,
    Task,
    TaskAssignment,
    TaskItem,
    TaskRevocation,
    TaskStatus,
    UpstreamCursor,
    User,
)
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Actor, Audit
from backend.domain.deadlines import services as deadlines
from backend.domain.deadlines.calendars import load_calendar
from backend.domain.deadlines.workdays import WorkCalendar
from backend.domain.fields import Code, Name, USCCInput
from backend.domain.objects.services import check_uscc
from backend.domain.sync.services import create_server_records
from backend.domain.sync.store import lock_counter
from backend.domain.tasks.assignment import ItemRequirement, check_assignment
from backend.domain.tasks.services import TaskService
from backend.errors import DomainError, InvalidInput
from sync import server_record_id

from .platform_client import RENEW_BEFORE, retry_after

if TYPE_CHECKING:
    from backend.http.context import AppContext

log = logging.getLogger("zsjg.import")

FEED = "tasks"
"""The cursor's name in ``upstream_cursors``."""
WITHDRAWABLE = frozenset(
    {
        TaskStatus.HELD,
        TaskStatus.ASSIGNED,
        TaskStatus.IN_PROGRESS,
        TaskStatus.SUBMITTED,
        TaskStatus.RETURNED,
    }
)

# the feed, as the platform sends it -------------------------------------------------------

TaskRef = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
"""As long as the platform allows (docs/platform-api.md)."""
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
"""A task number or an item code: the platform's, as long as our columns hold."""
Subject = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class FeedPlan(msgspec.Struct, kw_only=True):
    code: Code
    name: Name
    starts_on: date
    ends_on: date


class FeedObject(msgspec.Struct, kw_only=True):
    uscc: USCCInput
    name: Name
    address: Annotated[str, msgspec.Meta(max_length=300, pattern=r"^[^\x00]*$")]
    legal_representative: Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[^\x00]*$")]
    phone: Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[^\x00]*$")] | None = None


class FeedTask(msgspec.Struct, kw_only=True):
    code: ShortText
    name: Name
    plan: FeedPlan
    object: FeedObject
    item_codes: Annotated[list[ShortText], msgspec.Meta(min_length=1, max_length=30)]
    department_code: Annotated[str, msgspec.Meta(min_length=1, max_length=18)]
    """The 统一社会信用代码 of the lead department."""
    inspector_subjects: Annotated[list[Subject], msgspec.Meta(min_length=1, max_length=20)]
    primary_subject: Subject
    issued_on: date
    due_on: date


class FeedItem(msgspec.Struct, kw_only=True):
    task_ref: TaskRef
    version: Annotated[int, msgspec.Meta(ge=0)]
    state: Literal["active", "withdrawn"]
    task: FeedTask | None = None

    def __post_init__(self) -> None:
        if self.state == "active" and self.task is None:
            raise ValueError("an active item carries its task")


class _ItemKey(msgspec.Struct):
    """The little of a malformed item that may still be read, to key its held import."""

    task_ref: TaskRef
    version: int = 0


class FeedPage(msgspec.Struct, kw_only=True):
    items: list[msgspec.Raw]
    """Decoded one by one: a malformed item becomes a held import, the page goes on."""
    cursor: str
    more: bool


# the feed's HTTP side ----------------------------------------------------------------------


class FeedError(Exception):
    """The feed could not be read this round (nothing is changed; the next round tries again)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.error = error
        """The platform's error code (``invalid_cursor``: read again from the beginning)."""


class FeedClient:
    """``GET {platform}/api/tasks/feed`` with a client-credentials bearer, cached until a minute
    before it expires and renewed once on a 401."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._token: tuple[str, datetime] | None = None
        self.token_requests = 0

    async def close(self) -> None:
        await self._http.aclose()

    async def page(self, cursor: str | None, limit: int) -> FeedPage:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        try:
            response = await self._get(params, await self._bearer())
            if response.status_code == 401:
                self._token = None
                response = await self._get(params, await self._bearer())
        except httpx.HTTPError as exc:
            raise FeedError(f"network: {exc!r}"[:500]) from exc
        if response.status_code != 200:
            try:
                error = response.json().get("error")
            except (ValueError, AttributeError):
                error = None
            raise FeedError(
                f"the feed answered {response.status_code}: {response.text[:300]}",
                status=response.status_code,
                retry_after=retry_after(response.headers.get("retry-after"), self._clock.now()),
                error=error if isinstance(error, str) else None,
            )
        try:
            return msgspec.json.decode(response.content, type=FeedPage)
        except msgspec.DecodeError as exc:  # ValidationError included
            raise FeedError(f"the feed's answer is not a feed page: {exc}", status=200) from exc

    async def _get(self, params: dict[str, str | int], token: str) -> httpx.Response:
        return await self._http.get(
            f"{self.base_url}/api/tasks/feed",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def _bearer(self) -> str:
        now = self._clock.now()
        if self._token is not None and self._token[1] - RENEW_BEFORE > now:
            return self._token[0]
        self.token_requests += 1
        response = await self._http.post(
            self._token_url,
            data={"grant_type": "client_credentials"},
            auth=(self._client_id, self._client_secret),
        )
        if response.status_code != 200:
            raise FeedError(
                f"the token endpoint answered {response.status_code}: {response.text[:300]}",
                status=response.status_code,
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = int(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedError("the token endpoint's answer has no access_token") from exc
        self._token = (token, now + timedelta(seconds=max(lifetime, 0)))
        return token


# a round -----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    pages: int = 0
    items: int = 0
    assigned: int = 0
    """New tasks created ``assigned``, and held tasks released by a corrected version."""
    held: int = 0
    held_imports: int = 0
    updated: int = 0
    flagged: int = 0
    withdrawn: int = 0
    ignored: int = 0
    """Versions already taken in (a page read again)."""
    restarted: bool = False
    """The platform refused the stored cursor and the feed was read from the beginning."""
    error: str | None = None
    status: int | None = None
    retry_after: float | None = None
    outcomes: list[tuple[str, int, str]] = field(default_factory=list)
    """``(task_ref, version, outcome)`` of every item applied, in feed order."""


class Unresolvable(Exception):
    """The feed task cannot become a task here; it is kept as a held import with this reason."""

    def __init__(self, reason: str, team_id: uuid.UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.team_id = team_id


class TaskImporter:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        client: FeedClient,
        clock: Clock,
        *,
        page_limit: int = 100,
        max_pages: int = 20,
    ) -> None:
        self._session_maker = session_maker
        self.client = client
        self._clock = clock
        self.page_limit = page_limit
        self.max_pages = max_pages

    async def close(self) -> None:
        await self.client.close()

    async def run_once(self) -> ImportReport:
        """Read the feed from the stored cursor until it has no more (bounded), page by page."""
        report = ImportReport()
        async with self._session_maker() as session:
            stored = await session.scalar(
                select(UpstreamCursor.cursor).where(UpstreamCursor.name == FEED)
            )
        cursor = stored
        for _ in range(self.max_pages):
            try:
                page = await self.client.page(cursor, self.page_limit)
            except FeedError as exc:
                if exc.error == "invalid_cursor" and cursor is not None and not report.restarted:
                    # the platform no longer knows our cursor: read it all again (versions
                    # already taken in are ignored, so nothing is applied twice)
                    log.warning("task feed refused the cursor; reading from the beginning")
                    report.restarted = True
                    cursor = None
                    continue
                report.error, report.status, report.retry_after = (
                    str(exc),
                    exc.status,
                    exc.retry_after,
                )
                log.warning("task feed: %s", exc)
                break
            if not await self._apply_page(stored, page, report):
                break  # another importer took this page in first; the next round goes on from it
            report.pages += 1
            cursor = stored = page.cursor
            if not page.more:
                break
        return report

    async def _apply_page(self, cursor: str | None, page: FeedPage, report: ImportReport) -> bool:
        with write_intent():
            async with self._session_maker() as session, session.begin():
                stored = await session.get(UpstreamCursor, FEED, with_for_update=True)
                if stored is not None and stored.cursor != cursor:
                    return False
                meta = await lock_counter(session)
                audit = Audit(session, self._clock, Actor.system())
                apply = _Apply(session, audit, meta, self._clock, report)
                for raw in page.items:
                    report.items += 1
                    await apply.item(bytes(raw))
                if stored is None:
                    session.add(
                        UpstreamCursor(name=FEED, cursor=page.cursor, updated_at=self._clock.now())
                    )
                else:
                    stored.cursor = page.cursor
                    stored.updated_at = self._clock.now()
        return True


def build_importer(
    ctx: AppContext, *, transport: httpx.AsyncBaseTransport | None = None
) -> TaskImporter | None:
    """The importer, or ``None`` when no platform is configured."""
    settings = ctx.settings
    if not settings.effective_platform_url or not settings.sso_client_secret:
        return None
    client = FeedClient(
        base_url=settings.effective_platform_url,
        token_url=settings.effective_platform_token_url,
        client_id=settings.sso_client_id,
        client_secret=settings.sso_client_secret,
        clock=ctx.clock,
        transport=transport,
    )
    return TaskImporter(ctx.session_maker, client, ctx.clock)


# one item ------------------------------------------------------------------------------------


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


class _Apply:
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

    # changes ---------------------------------------------------------------------------------

    async def _change(self, task: Task, version: int, feed: FeedTask) -> None:
        ref = task.platform_ref or ""
        task.platform_version = version
        task.platform_task = msgspec.to_builtins(feed)
        if task.status is TaskStatus.HELD:
            await self._recheck(task, version, feed)
            return
        captured = task.status is not TaskStatus.ASSIGNED or await _captured(self.session, task)
        before = await _snapshot(self.session, task)
        wanted = _wanted(feed)
        changed = {k for k in wanted if before.get(k) != wanted[k]}
        if not changed:
            self.report.ignored += 1
            return
        reason = None
        if not captured:
            try:
                await self._apply_all(task, feed, changed)
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
        if "due_on" in changed:
            task.due_on = feed.due_on
            plan = await self.session.get(Plan, task.plan_id)
            assert plan is not None
            deadlines.apply(task, plan, await _calendar(self.session, task))
        rest = changed - {"name", "due_on"}
        if rest:
            task.platform_change_pending = {
                "version": version,
                "at": self.clock.now().isoformat(),
                "reason": reason or "任务已开始检查，平台的其他调整需由组长处理",
                "changes": {k: {"from": before.get(k), "to": wanted[k]} for k in sorted(rest)},
            }
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

    async def _recheck(self, task: Task, version: int, feed: FeedTask) -> None:
        ref = task.platform_ref or ""
        try:
            r = await self._resolve(ref, feed, team_id=task.team_id)
        except Unresolvable as exc:
            task.name, task.due_on = feed.name, feed.due_on
            task.hold_reason = exc.reason
            self.report.held += 1
            self._record("held", ref, version, task=task, reason=exc.reason)
            return
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
            await _history(
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
            task.status = TaskStatus.WITHDRAWN
            task.sync_version = self._bump()
            task.updated_at = now
            self.report.withdrawn += 1
            self._record("withdrawn", item.task_ref, item.version, task=task, previous=before)
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


# shared with the lead's release -------------------------------------------------------------


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
    await _history(
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


async def _history(
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
) -> None:
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

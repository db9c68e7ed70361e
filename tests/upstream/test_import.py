"""Task import from the platform's feed (served here by ``httpx.MockTransport`` exactly as the
contract says): new tasks assigned or held, nothing dropped, pages idempotent, changes and
withdrawals reaching the phones, local work kept, the cursor kept, feed errors harmless, and the
lead's release of a held task."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.clock import FixedClock
from backend.db.models import (
    AssignmentHistoryEntry,
    AuditEvent,
    HeldImport,
    Task,
    TaskAssignment,
    TaskStatus,
    UpstreamCursor,
    User,
)
from backend.domain.upstream.import_controllers import TaskImportController
from backend.domain.upstream.importer import FeedClient, ImportReport, TaskImporter
from backend.settings import Settings
from tests.world import World, build_world, login, uscc

pytestmark = pytest.mark.anyio

PLATFORM = "http://platform.test"
SECRET = "import-test-secret"
AMR = uscc("11360731MB1234567")
SHOP = uscc("91360731MA3FEED01")


@dataclass
class Feed:
    """The platform's feed: every change gets the next sequence; an answer lists the latest
    version of each task changed after the cursor, once, in sequence order."""

    changes: list[tuple[int, str, int, str, dict[str, Any] | None]] = field(default_factory=list)
    raw: dict[int, bytes] = field(default_factory=dict)
    faults: list[httpx.Response] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    def put(
        self, ref: str, version: int, task: dict[str, Any] | None, state: str = "active"
    ) -> None:
        self.changes.append((len(self.changes) + 1, ref, version, state, task))

    def put_raw(self, text: bytes) -> None:
        seq = len(self.changes) + 1
        self.changes.append((seq, "", 0, "raw", None))
        self.raw[seq] = text

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oidc/token":
            expected = base64.b64encode(f"zsjg-backend:{SECRET}".encode()).decode()
            assert request.headers["authorization"] == f"Basic {expected}"
            assert b"grant_type=client_credentials" in request.content
            token = f"tok-{len(self.tokens)}"
            self.tokens.add(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": 600}
            )
        assert request.url.path == "/api/tasks/feed"
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return httpx.Response(401)
        if self.faults:
            return self.faults.pop(0)
        cursor = request.url.params.get("cursor")
        self.cursors.append(cursor)
        if cursor is not None and not cursor.isdigit():
            return httpx.Response(400, json={"error": "invalid_cursor"})
        after = int(cursor) if cursor else 0
        limit = int(request.url.params["limit"])
        latest: dict[str, tuple[int, str, int, str, dict[str, Any] | None]] = {}
        for change in self.changes:
            if change[0] > after:
                key = change[1] or f"raw{change[0]}"
                latest.pop(key, None)
                latest[key] = change
        ordered = sorted(latest.values())
        page = ordered[:limit]
        items: list[Any] = []
        for seq, ref, version, state, task in page:
            if state == "raw":
                items.append(f"__raw{seq}__")
            else:
                items.append({"task_ref": ref, "version": version, "state": state, "task": task})
        body = httpx.Response(
            200,
            json={
                "items": items,
                "cursor": str(page[-1][0] if page else after),
                "more": len(ordered) > limit,
            },
        ).content
        for seq, text in self.raw.items():  # a malformed item, spliced in verbatim
            body = body.replace(f'"__raw{seq}__"'.encode(), text)
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def feed_task(
    code: str,
    subjects: list[str],
    *,
    items: list[str] | None = None,
    name: str | None = None,
    due_on: str = "2026-12-20",
    primary: str | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name or f"平台任务{code}",
        "plan": {
            "code": "PLAN-2026-2",
            "name": "2026年第二批双随机抽查",
            "starts_on": "2026-09-01",
            "ends_on": "2026-12-31",
        },
        "object": {
            "uscc": SHOP,
            "name": "于都县平台商店",
            "address": "于都县贡江镇长征大道9号",
            "legal_representative": "李四",
            "phone": "0797-1234567",
        },
        "item_codes": items or ["FOOD-1"],
        "department_code": AMR,
        "inspector_subjects": subjects,
        "primary_subject": primary or subjects[0],
        "issued_on": "2026-11-30",
        "due_on": due_on,
    }


@dataclass
class Env:
    feed: Feed
    client: AsyncTestClient[Litestar]
    db: async_sessionmaker[AsyncSession]
    clock: FixedClock
    w: World

    def importer(self, **options: Any) -> TaskImporter:
        client = FeedClient(
            base_url=PLATFORM,
            token_url=f"{PLATFORM}/oidc/token",
            client_id="zsjg-backend",
            client_secret=SECRET,
            clock=self.clock,
            transport=httpx.MockTransport(self.feed.handler),
        )
        return TaskImporter(self.db, client, self.clock, **options)

    async def run(self, **options: Any) -> ImportReport:
        importer = self.importer(**options)
        try:
            with anyio.fail_after(20):
                return await importer.run_once()
        finally:
            await importer.close()

    async def task(self, ref: str) -> Task:
        async with self.db() as session:
            task = await session.scalar(select(Task).where(Task.platform_ref == ref))
            assert task is not None
            return task

    async def pulled(self, username: str) -> dict[str, str]:
        """The tasks (id → status) a fresh device of ``username`` pulls, and its revocations."""
        device = uuid.uuid4()
        headers = await login(self.client, username, device)
        r = await self.client.post(
            "/api/v1/sync/pull",
            json={"protocol_version": 1, "app_version": "test", "client_id": str(device)},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        return {t["id"]: t["status"] for t in r.json()["tasks"]}

    async def imported_events(self) -> list[dict[str, Any]]:
        async with self.db() as session:
            rows = (
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.action == "task_imported")
                    .order_by(AuditEvent.seq)
                )
            ).all()
        return [dict(e.details or {}) for e in rows]


@pytest.fixture
async def env(
    database_url: str,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    settings: Settings,
) -> AsyncIterator[Env]:
    w = await build_world(session_maker, clock)
    async with session_maker() as session, session.begin():
        for user in (await session.scalars(select(User))).all():
            user.platform_subject = f"sub-{user.username}"
    app = create_app(settings, clock=clock)
    if not any("/api/v1/team/imports" in route.path for route in app.routes):
        app.register(TaskImportController)  # until app.py lists it
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        yield Env(Feed(), client, session_maker, clock, w)


async def test_a_valid_task_is_assigned_pulled_by_its_inspectors_and_audited(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    report = await env.run()
    assert (report.assigned, report.held, report.error) == (1, 0, None)
    task = await env.task("P-1")
    assert task.status is TaskStatus.ASSIGNED and task.platform_version == 1
    assert task.code == "PT-1" and task.hold_reason is None and task.due_at is not None
    for username in ("amr_a", "amr_b"):
        assert (await env.pulled(username)).get(str(task.id)) == "assigned"
    assert str(task.id) not in await env.pulled("other_x")
    async with env.db() as session:
        history = (
            await session.scalars(
                select(AssignmentHistoryEntry).where(AssignmentHistoryEntry.task_id == task.id)
            )
        ).all()
        primary = await session.scalar(
            select(TaskAssignment.user_id).where(
                TaskAssignment.task_id == task.id, TaskAssignment.is_primary.is_(True)
            )
        )
    assert [h.action for h in history] == ["imported"] and primary == env.w["amr_a"]
    events = await env.imported_events()
    assert events == [{"task_ref": "P-1", "version": 1, "outcome": "assigned", "code": "PT-1"}], (
        events
    )


async def test_a_page_read_twice_creates_nothing_twice(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    env.feed.put("P-2", 1, feed_task("PT-2", ["sub-amr_a", "sub-nobody"]))
    env.feed.put("P-3", 1, feed_task("PT-3", ["sub-amr_a", "sub-amr_b"], items=["GONE-1"]))
    await env.run()
    async with env.db() as session, session.begin():  # a crash after the page, before the cursor
        await session.execute(delete(UpstreamCursor))
    again = await env.run()
    assert (again.items, again.ignored, again.assigned, again.held) == (3, 3, 0, 0)
    async with env.db() as session:
        assert await session.scalar(select(func.count()).where(Task.platform_ref.is_not(None))) == 2
        assert await session.scalar(select(func.count()).select_from(HeldImport)) == 1
    assert len(await env.imported_events()) == 3


async def test_several_pages_and_the_cursor_persists_across_importers(env: Env) -> None:
    for n in range(5):
        env.feed.put(f"P-{n}", 1, feed_task(f"PT-{n}", ["sub-amr_a", "sub-amr_b"]))
    report = await env.run(page_limit=2)
    assert (report.pages, report.assigned) == (3, 5)
    assert env.feed.cursors == [None, "2", "4"]
    env.feed.put("P-9", 1, feed_task("PT-9", ["sub-amr_a", "sub-amr_b"]))
    later = await env.run(page_limit=2)  # a new importer (a restarted server) goes on from "5"
    assert later.assigned == 1 and env.feed.cursors[-1] == "5"
    async with env.db() as session:
        assert await session.scalar(select(UpstreamCursor.cursor)) == "6"
    bounded = await env.run(page_limit=1, max_pages=1)
    assert bounded.pages == 1


async def test_an_unknown_inspector_holds_the_task_with_its_reason_and_no_phone_gets_it(
    env: Env,
) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-nobody"]))
    env.feed.put("P-2", 1, feed_task("PT-2", ["sub-amr_a", "sub-unqualified_u"]))
    report = await env.run()
    assert (report.assigned, report.held) == (0, 2)
    unknown, unqualified = await env.task("P-1"), await env.task("P-2")
    assert unknown.status is TaskStatus.HELD and "sub-nobody" in (unknown.hold_reason or "")
    assert "执法资格" in (unqualified.hold_reason or "")
    for username in ("amr_a", "unqualified_u", "lead1"):
        pulled = await env.pulled(username)
        assert str(unknown.id) not in pulled and str(unqualified.id) not in pulled
    r = await env.client.get("/api/v1/team/imports", headers=await login(env.client, "lead1"))
    assert r.status_code == 200, r.text
    held = {t["id"]: t for t in r.json()["held_tasks"]}
    assert held[str(unknown.id)]["hold_reason"] == unknown.hold_reason
    assert {(p["subject"], p["user_id"]) for p in held[str(unknown.id)]["proposed"]} == {
        ("sub-amr_a", str(env.w["amr_a"])),
        ("sub-nobody", None),
    }
    other = await env.client.get("/api/v1/team/imports", headers=await login(env.client, "lead2"))
    assert other.json()["held_tasks"] == []
    events = await env.imported_events()
    assert [e["outcome"] for e in events] == ["held", "held"]


async def test_a_task_that_cannot_become_a_task_is_a_held_import_never_dropped(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"], items=["GONE-1"]))
    env.feed.put_raw(b'{"task_ref": "P-2", "version": 1, "state": "active", "task": {"code": 7}}')
    env.feed.put_raw(b'{"no": "ref"}')
    env.feed.put("P-3", 1, feed_task("PT-3", ["sub-amr_a", "sub-amr_b"]))
    report = await env.run()
    assert (report.held_imports, report.assigned, report.error) == (3, 1, None)
    async with env.db() as session:
        rows = {h.task_ref: h for h in (await session.scalars(select(HeldImport))).all()}
    assert "清单" in rows["P-1"].reason and rows["P-1"].team_id == env.w["team1"]
    assert rows["P-1"].payload["task"]["item_codes"] == ["GONE-1"]
    assert "格式错误" in rows["P-2"].reason and '"code": 7' in rows["P-2"].payload["raw"]
    assert any(ref.startswith("malformed:") for ref in rows)
    r = await env.client.get("/api/v1/team/imports", headers=await login(env.client, "lead1"))
    assert {h["task_ref"] for h in r.json()["held_imports"]} == set(rows)
    # a corrected version becomes a task and resolves the held import
    env.feed.put("P-1", 2, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    assert (await env.run()).assigned == 1
    async with env.db() as session:
        fixed = await session.scalar(select(HeldImport).where(HeldImport.task_ref == "P-1"))
    assert fixed is not None and fixed.resolution == "imported" and fixed.task_id is not None


async def test_a_change_to_an_assigned_task_reaches_the_phones(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    await env.run()
    task = await env.task("P-1")
    env.feed.put(
        "P-1",
        2,
        feed_task(
            "PT-1",
            ["sub-amr_a", "sub-amr_c"],
            items=["FOOD-1", "SE-1"],
            name="改名后的任务",
            due_on="2026-12-24",
        ),
    )
    report = await env.run()
    assert report.updated == 1, report
    changed = await env.task("P-1")
    assert changed.name == "改名后的任务" and str(changed.due_on) == "2026-12-24"
    assert changed.sync_version > task.sync_version and changed.platform_version == 2
    assert str(task.id) in await env.pulled("amr_c")
    device = uuid.uuid4()
    headers = await login(env.client, "amr_b", device)
    r = await env.client.post(
        "/api/v1/sync/pull",
        json={
            "protocol_version": 1,
            "app_version": "test",
            "client_id": str(device),
            "cursor": task.sync_version,
        },
        headers=headers,
    )
    assert str(task.id) in r.json()["revocations"]
    device = uuid.uuid4()
    headers = await login(env.client, "amr_a", device)
    r = await env.client.post(
        "/api/v1/sync/pull",
        json={
            "protocol_version": 1,
            "app_version": "test",
            "client_id": str(device),
            "cursor": task.sync_version,
        },
        headers=headers,
    )
    pulled = next(t for t in r.json()["tasks"] if t["id"] == str(task.id))
    assert pulled["name"] == "改名后的任务" and len(pulled["items"]) == 2  # whole, new checklist
    assert [e["outcome"] for e in await env.imported_events()] == ["assigned", "updated"]


async def test_a_change_over_work_under_way_keeps_the_work_and_is_flagged(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    await env.run()
    task = await env.task("P-1")
    async with env.db() as session, session.begin():
        await session.execute(
            update(Task).where(Task.id == task.id).values(status=TaskStatus.IN_PROGRESS)
        )
    env.feed.put(
        "P-1", 2, feed_task("PT-1", ["sub-amr_c", "sub-amr_b"], name="新名称", due_on="2026-12-22")
    )
    report = await env.run()
    assert report.flagged == 1
    kept = await env.task("P-1")
    assert kept.status is TaskStatus.IN_PROGRESS
    assert kept.name == "新名称" and str(kept.due_on) == "2026-12-22"
    pending = kept.platform_change_pending or {}
    assert pending["version"] == 2 and set(pending["changes"]) == {
        "inspector_subjects",
        "primary_subject",
    }
    assert (await env.pulled("amr_a"))[str(task.id)] == "in_progress"  # still theirs
    assert str(task.id) not in await env.pulled("amr_c")
    r = await env.client.get("/api/v1/team/imports", headers=await login(env.client, "lead1"))
    assert [p["id"] for p in r.json()["pending_changes"]] == [str(task.id)]
    assert (await env.imported_events())[-1]["outcome"] == "flagged"


async def test_a_withdrawn_task_is_pulled_as_withdrawn(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    env.feed.put("P-2", 1, feed_task("PT-2", ["sub-amr_a", "sub-amr_b"]))
    await env.run()
    env.feed.put("P-1", 2, None, state="withdrawn")
    async with env.db() as session, session.begin():
        await session.execute(
            update(Task).where(Task.platform_ref == "P-2").values(status=TaskStatus.APPROVED)
        )
    env.feed.put("P-2", 2, None, state="withdrawn")
    report = await env.run()
    assert (report.withdrawn, report.flagged) == (1, 1)
    gone = await env.task("P-1")
    assert gone.status is TaskStatus.WITHDRAWN
    assert (await env.pulled("amr_a"))[str(gone.id)] == "withdrawn"
    approved = await env.task("P-2")
    assert approved.status is TaskStatus.APPROVED
    assert (approved.platform_change_pending or {}).get("withdrawn") is True
    outcomes = [e["outcome"] for e in await env.imported_events()]
    assert outcomes[-2:] == ["withdrawn", "withdrawal_flagged"]


@pytest.mark.parametrize(
    "fault",
    [
        httpx.Response(503, text="down"),
        httpx.Response(429, headers={"Retry-After": "30"}),
        httpx.Response(403, text="no"),
    ],
)
async def test_a_feed_error_changes_nothing_and_the_next_round_succeeds(
    env: Env, fault: httpx.Response
) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    env.feed.faults.append(fault)
    failed = await env.run()
    assert failed.status == fault.status_code and failed.error and failed.pages == 0
    if fault.status_code == 429:
        assert failed.retry_after == 30
    async with env.db() as session:
        assert await session.scalar(select(func.count()).where(Task.platform_ref.is_not(None))) == 0
        assert await session.scalar(select(func.count()).select_from(UpstreamCursor)) == 0
    ok = await env.run()
    assert (ok.error, ok.assigned) == (None, 1)


async def test_a_revoked_token_is_renewed_once(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    importer = env.importer()
    try:
        await importer.run_once()
        env.feed.tokens.clear()  # the platform forgot every token
        env.feed.put("P-2", 1, feed_task("PT-2", ["sub-amr_a", "sub-amr_b"]))
        report = await importer.run_once()
    finally:
        await importer.close()
    assert (report.error, report.assigned, importer.client.token_requests) == (None, 1, 2)


async def test_a_corrected_version_releases_a_held_task(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-nobody"]))
    await env.run()
    held = await env.task("P-1")
    env.feed.put("P-1", 2, feed_task("PT-1", ["sub-amr_a", "sub-amr_c"]))
    report = await env.run()
    assert report.assigned == 1
    released = await env.task("P-1")
    assert released.id == held.id and released.status is TaskStatus.ASSIGNED
    assert released.hold_reason is None
    assert (await env.pulled("amr_c"))[str(held.id)] == "assigned"
    assert (await env.imported_events())[-1]["outcome"] == "released"


async def test_the_lead_releases_a_held_task_under_the_rules(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-nobody"]))
    await env.run()
    task = await env.task("P-1")
    url = f"/api/v1/team/tasks/{task.id}/release"
    good = {
        "inspector_ids": [str(env.w["amr_a"]), str(env.w["amr_b"])],
        "primary_inspector_id": str(env.w["amr_a"]),
        "reason": "平台账号未关联，由本组人员替换",
    }
    for someone, expected in (("amr_a", 403), ("lead2", 404), ("op", 403)):
        r = await env.client.post(url, json=good, headers=await login(env.client, someone))
        assert r.status_code == expected, (someone, r.text)
    lead = await login(env.client, "lead1")
    alone = {**good, "inspector_ids": [str(env.w["amr_a"])]}
    r = await env.client.post(url, json=alone, headers=lead)
    assert r.status_code == 422 and r.json()["code"] == "too-few-inspectors", r.text
    outsider = {**good, "inspector_ids": [str(env.w["amr_a"]), str(env.w["other_x"])]}
    r = await env.client.post(url, json=outsider, headers=lead)
    assert r.status_code == 422, r.text
    assert (await env.task("P-1")).status is TaskStatus.HELD
    assert str(task.id) not in await env.pulled("amr_a")
    r = await env.client.post(url, json=good, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json() == {"task_id": str(task.id), "status": "assigned"}
    assert (await env.pulled("amr_b"))[str(task.id)] == "assigned"
    again = await env.client.post(url, json=good, headers=lead)
    assert again.status_code == 409 and again.json()["code"] == "task-not-held"
    async with env.db() as session:
        history = (
            await session.scalars(
                select(AssignmentHistoryEntry).where(AssignmentHistoryEntry.task_id == task.id)
            )
        ).all()
        refused = await session.scalar(
            select(func.count()).where(AuditEvent.action == "rule_refused")
        )
    assert [(h.action, h.by_user_id) for h in history] == [("released", env.w["lead1"])]
    assert refused == 3  # the two rule refusals and the 409 (not the other lead's 404)
    missing = await env.client.post(
        f"/api/v1/team/tasks/{uuid.uuid4()}/release", json=good, headers=lead
    )
    assert missing.status_code == 404


async def test_a_cursor_the_platform_no_longer_knows_reads_the_feed_again(env: Env) -> None:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
    await env.run()
    async with env.db() as session, session.begin():  # a cursor from before a platform restart
        await session.execute(update(UpstreamCursor).values(cursor="stale"))
    env.feed.put("P-2", 1, feed_task("PT-2", ["sub-amr_a", "sub-amr_b"]))
    report = await env.run()
    assert report.restarted and report.error is None
    assert (report.assigned, report.ignored) == (1, 1)
    assert env.feed.cursors[-2:] == ["stale", None]
    async with env.db() as session:
        assert await session.scalar(select(UpstreamCursor.cursor)) == "2"

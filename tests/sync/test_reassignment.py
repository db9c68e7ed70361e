"""Reassignment while an inspector is offline, the lead's sync lists, and revoking a device."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import AssignmentHistoryEntry, AuditEvent, TaskAssignment
from tests.phone import HLC_MS, Phone, check_item
from tests.world import World, build_world, login

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


def body(w: World, *inspectors: str, reason: str = "原检查人员临时外出培训") -> dict[str, object]:
    return {
        "inspector_ids": [str(w[i]) for i in inspectors],
        "primary_inspector_id": str(w[inspectors[0]]),
        "reason": reason,
    }


async def _count(maker: Maker, model: type) -> int:
    async with maker() as s:
        return await s.scalar(select(func.count()).select_from(model)) or 0


async def test_reassignment_while_offline_keeps_the_work(
    client: Client, world: World, session_maker: Maker
) -> None:
    t1 = str(world["t1"])
    a = await Phone(client, "amr_a").login()
    c = await Phone(client, "amr_c").login()
    await a.pull()
    await c.pull()
    offline_work = a.set(
        "check_item", check_item(a, t1), t1, conforms=False, problem_text="离线时发现"
    )  # captured offline

    lead = await login(client, "lead1")
    r = await client.put(
        f"/api/v1/team/tasks/{t1}/assignment", json=body(world, "amr_b", "amr_c"), headers=lead
    )
    assert r.status_code == 200, r.text
    detail = r.json()
    assert {i["id"] for i in detail["inspectors"]} == {str(world["amr_b"]), str(world["amr_c"])}
    assert detail["assignment_history"][-1]["reason"] == "原检查人员临时外出培训"

    assert (await a.pull())["revocations"] == [t1]
    arrived = await c.pull()
    assert [t["code"] for t in arrived["tasks"]] == ["T-1"] and arrived["tasks"][0]["items"]
    assert {r["task_id"] for r in arrived["records"]} == {t1}

    late = await a.push(offline_work)
    assert late.status_code == 200
    assert late.json()["results"][0]["outcome"] == "applied" and late.json()["results"][0][
        "flags"
    ] == ["late"]
    listed = (await client.get("/api/v1/team/sync/late-work", headers=lead)).json()
    assert [(w["kind"], w["mutation_id"]) for w in listed["items"]] == [
        ("late", offline_work["id"])
    ]
    assert (
        await client.get("/api/v1/team/sync/late-work", headers=await login(client, "lead2"))
    ).json()["items"] == []
    async with session_maker() as s:
        actions = (await s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
        reassigned = (
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "task_reassigned"))
        ).one()
    assert "mutation_flagged_late" in actions and reassigned.reason == "原检查人员临时外出培训"
    # the new assignee now sees the late work
    page = await c.pull()
    assert any(
        r["fields"].get("problem_text", {}).get("value") == "离线时发现" for r in page["records"]
    )


@pytest.mark.parametrize(
    ("inspectors", "code"),
    [
        (("amr_c", "unqualified_u"), "inspector-not-qualified"),
        (("amr_c",), "too-few-inspectors"),
        (("amr_a", "amr_b"), "invalid-input"),
    ],
)
async def test_reassignment_rules(
    client: Client, world: World, session_maker: Maker, inspectors: tuple[str, ...], code: str
) -> None:
    t1 = str(world["t1"])
    before = (
        await _count(session_maker, AssignmentHistoryEntry),
        await _count(session_maker, TaskAssignment),
    )
    r = await client.put(
        f"/api/v1/team/tasks/{t1}/assignment",
        json=body(world, *inspectors),
        headers=await login(client, "lead1"),
    )
    assert r.status_code == 422 and r.json()["code"] == code
    assert (
        await _count(session_maker, AssignmentHistoryEntry),
        await _count(session_maker, TaskAssignment),
    ) == before
    async with session_maker() as s:
        refused = (
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "rule_refused"))
        ).all()
    assert [e.details["operation"] for e in refused] == ["reassign_task"]


async def test_reassignment_is_for_the_tasks_lead(client: Client, world: World) -> None:
    t1 = str(world["t1"])
    assert (
        await client.put(
            f"/api/v1/team/tasks/{t1}/assignment",
            json=body(world, "amr_b", "amr_c"),
            headers=await login(client, "lead2"),
        )
    ).status_code == 404
    assert (
        await client.put(
            f"/api/v1/team/tasks/{t1}/assignment",
            json=body(world, "amr_b", "amr_c"),
            headers=await login(client, "amr_a"),
        )
    ).status_code == 403
    no_reason = body(world, "amr_b", "amr_c")
    del no_reason["reason"]
    assert (
        await client.put(
            f"/api/v1/team/tasks/{t1}/assignment",
            json=no_reason,
            headers=await login(client, "lead1"),
        )
    ).status_code == 400


async def test_lead_lists_conflicts_rejections_and_unsynced_devices(
    client: Client, world: World
) -> None:
    t1 = str(world["t1"])
    a = await Phone(client, "amr_a").login()
    b = await Phone(client, "amr_b", HLC_MS + 60_000).login()
    await a.pull()
    await b.pull()
    item = check_item(a, t1)
    await a.push(a.set("check_item", item, t1, conforms=True))
    await b.push(
        b.set("check_item", item, t1, conforms=False),
        pending_mutations=4,
        pending_files=3,
        oldest_pending_at="2026-11-29T08:00:00+08:00",
    )
    await a.push(a.mutation("create", "finding", str(uuid.uuid4()), t1, {"text": ""}))
    lead = await login(client, "lead1")
    conflicts = (await client.get("/api/v1/team/sync/conflicts?status=open", headers=lead)).json()
    assert [c["field"] for c in conflicts["items"]] == ["conforms"]
    rejections = (await client.get("/api/v1/team/sync/rejections", headers=lead)).json()
    assert [r["reason_code"] for r in rejections["items"]] == [
        "invalid"
    ] and '"text":""' in rejections["items"][0]["payload"]
    devices = (await client.get("/api/v1/team/sync/devices", headers=lead)).json()
    assert [(d["display_name"], d["pending_mutations"], d["pending_files"]) for d in devices] == [
        ("测试amr_b", 4, 3)
    ]
    other = await login(client, "lead2")
    for path in ("conflicts", "rejections"):
        assert (await client.get(f"/api/v1/team/sync/{path}", headers=other)).json()["items"] == []
    assert (await client.get("/api/v1/team/sync/devices", headers=other)).json() == []
    assert (await client.get("/api/v1/team/sync/conflicts", headers=a.headers)).status_code == 403


async def test_operator_revokes_a_device(
    client: Client, world: World, session_maker: Maker
) -> None:
    a = await Phone(client, "amr_a").login()
    op = await login(client, "op")
    url = f"/api/v1/devices/{a.device}/revoke"
    assert (
        await client.post(url, json={"reason": "手机遗失"}, headers=await login(client, "lead1"))
    ).status_code == 403
    assert (
        await client.post(
            f"/api/v1/devices/{uuid.uuid4()}/revoke", json={"reason": "手机遗失"}, headers=op
        )
    ).status_code == 404
    r = await client.post(url, json={"reason": "手机遗失"}, headers=op)
    assert r.status_code == 200
    assert (await client.get("/api/v1/me", headers=a.headers)).status_code == 401
    async with session_maker() as s:
        [event] = (
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "device_revoked"))
        ).all()
    assert event.reason == "手机遗失"


async def test_reassignment_stays_inside_the_leads_team(
    client: Client, world: World, session_maker: Maker
) -> None:
    t1 = str(world["t1"])
    r = await client.put(
        f"/api/v1/team/tasks/{t1}/assignment",
        json=body(world, "amr_b", "other_x"),
        headers=await login(client, "lead1"),
    )
    assert r.status_code == 422 and r.json()["inspector_ids"] == [str(world["other_x"])]

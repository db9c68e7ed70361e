"""Every endpoint is scoped to its caller: another user's objects answer 404 and nothing changes."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import ConflictOfInterest, InspectionObject, Task
from tests.world import World, build_world, login

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def _count(session_maker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with session_maker() as s:
        return await s.scalar(select(func.count()).select_from(model)) or 0


def _task_body(
    w: World, code: str, inspectors: tuple[str, str] = ("amr_a", "amr_b")
) -> dict[str, object]:
    return {
        "code": code,
        "name": "新任务",
        "plan_id": str(w["plan"]),
        "object_id": str(w["shop"]),
        "item_codes": ["FOOD-1"],
        "issued_on": "2026-11-30",
        "due_on": "2026-12-20",
        "inspector_ids": [str(w[i]) for i in inspectors],
        "primary_inspector_id": str(w[inspectors[0]]),
    }


async def test_my_tasks_hold_only_my_tasks(client: Client, world: World) -> None:
    for user, expected in [
        ("amr_a", ["T-1"]),
        ("amr_b", ["T-1"]),
        ("other_x", ["T-2"]),
        ("amr_c", []),
    ]:
        r = await client.get("/api/v1/tasks", headers=await login(client, user))
        assert r.status_code == 200
        assert [t["code"] for t in r.json()["items"]] == expected, user


async def test_one_task_answers_404_to_everyone_else(client: Client, world: World) -> None:
    url = f"/api/v1/tasks/{world['t1']}"
    for user in ("amr_a", "amr_b", "lead1"):
        r = await client.get(url, headers=await login(client, user))
        assert r.status_code == 200, user
        assert r.json()["code"] == "T-1"
    for user in ("amr_c", "other_x", "lead2"):
        r = await client.get(url, headers=await login(client, user))
        assert r.status_code == 404, user
        assert r.json()["code"] == "task-not-found"
    # an id that does not exist answers the same as another's task
    missing = await client.get(
        f"/api/v1/tasks/{uuid.uuid4()}", headers=await login(client, "amr_a")
    )
    assert missing.status_code == 404 and missing.json()["code"] == "task-not-found"
    # operators do not read inspection content at all
    assert (await client.get(url, headers=await login(client, "op"))).status_code == 403


async def test_task_detail_carries_object_items_checklist_and_code_tables(
    client: Client, world: World
) -> None:
    r = await client.get(f"/api/v1/tasks/{world['t1']}", headers=await login(client, "amr_a"))
    body = r.json()
    assert body["object"]["uscc"] and body["object"]["legal_representative"] == "张三"
    assert [i["item_code"] for i in body["items"]] == ["FOOD-1"]
    assert [p["content"] for p in body["items"][0]["checklist"]] == [
        "FOOD-1检查内容0",
        "FOOD-1检查内容1",
    ]
    assert {t["name"] for t in body["code_tables"]} >= {
        "result_category",
        "follow_up_measure",
        "verification_method",
    }
    assert [i["is_primary"] for i in body["inspectors"]] == [True, False]
    assert body["assignment_history"][0]["action"] == "assigned"


async def test_team_tasks_are_for_leads_of_that_team(client: Client, world: World) -> None:
    r = await client.get("/api/v1/team/tasks", headers=await login(client, "lead1"))
    assert [t["code"] for t in r.json()["items"]] == ["T-1"]
    r = await client.get("/api/v1/team/tasks", headers=await login(client, "lead2"))
    assert [t["code"] for t in r.json()["items"]] == ["T-2"]
    r = await client.get(
        f"/api/v1/team/tasks?inspector_id={world['other_x']}", headers=await login(client, "lead1")
    )
    assert r.json()["items"] == []
    for user in ("amr_a", "op"):
        assert (
            await client.get("/api/v1/team/tasks", headers=await login(client, user))
        ).status_code == 403


async def test_issuing_a_task_for_another_team_changes_nothing(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    before = await _count(session_maker, Task)
    r = await client.post(
        f"/api/v1/team/tasks?team_id={world['team1']}",
        json=_task_body(world, "T-X"),
        headers=await login(client, "lead2"),
    )
    assert r.status_code == 404
    r = await client.post(
        "/api/v1/team/tasks", json=_task_body(world, "T-Y"), headers=await login(client, "amr_a")
    )
    assert r.status_code == 403
    assert await _count(session_maker, Task) == before
    r = await client.post(
        "/api/v1/team/tasks", json=_task_body(world, "T-Z"), headers=await login(client, "lead1")
    )
    assert r.status_code == 201, r.text
    assert r.json()["code"] == "T-Z"
    assert await _count(session_maker, Task) == before + 1


async def test_rule_refusals_through_the_api_are_problem_details(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    before = await _count(session_maker, Task)
    headers = await login(client, "lead1")
    r = await client.post(
        "/api/v1/team/tasks",
        json=_task_body(world, "T-Q", ("amr_a", "unqualified_u")),
        headers=headers,
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "inspector-not-qualified" and body["inspector_ids"] == [
        str(world["unqualified_u"])
    ]
    assert body["type"] == "urn:zsjg:problem:inspector-not-qualified"
    bad = _task_body(world, "T-R")
    bad["surprise"] = 1
    assert (await client.post("/api/v1/team/tasks", json=bad, headers=headers)).status_code == 400
    assert await _count(session_maker, Task) == before


async def test_conflicts_are_my_own(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    a = await login(client, "amr_a")
    r = await client.post(
        "/api/v1/me/conflicts",
        json={"object_id": str(world["factory"]), "reason": "亲属在该企业任职"},
        headers=a,
    )
    assert r.status_code == 201, r.text
    assert [
        c["object_id"] for c in (await client.get("/api/v1/me/conflicts", headers=a)).json()
    ] == [str(world["factory"])]
    assert (
        await client.get("/api/v1/me/conflicts", headers=await login(client, "amr_b"))
    ).json() == []
    # a lead records a business's recusal request only for their own team's inspectors
    before = await _count(session_maker, ConflictOfInterest)
    body = {
        "inspector_id": str(world["amr_b"]),
        "object_id": str(world["shop"]),
        "reason": "企业申请回避",
    }
    assert (
        await client.post("/api/v1/team/conflicts", json=body, headers=await login(client, "lead2"))
    ).status_code == 404
    assert await _count(session_maker, ConflictOfInterest) == before
    r = await client.post("/api/v1/team/conflicts", json=body, headers=await login(client, "lead1"))
    assert r.status_code == 201 and r.json()["source"] == "business"
    assert (
        await client.post(
            "/api/v1/me/conflicts", json={"object_id": str(world["shop"]), "reason": "x"}, headers=a
        )
    ).status_code == 400
    assert (
        await client.post(
            "/api/v1/me/conflicts",
            json={"object_id": str(world["shop"]), "reason": "operators"},
            headers=await login(client, "op"),
        )
    ).status_code == 403


async def test_me_is_me(client: Client, world: World) -> None:
    for user in ("amr_a", "lead1", "op"):
        body = (await client.get("/api/v1/me", headers=await login(client, user))).json()
        assert body["id"] == str(world[user])
    lead = (await client.get("/api/v1/me", headers=await login(client, "lead1"))).json()
    assert [t["id"] for t in lead["led_teams"]] == [str(world["team1"])]
    insp = (await client.get("/api/v1/me", headers=await login(client, "amr_a"))).json()
    assert insp["profile"]["certificate_valid_today"] is True
    assert [q["code"] for q in insp["profile"]["qualification_areas"]] == [
        "food",
        "special_equipment",
    ]


async def test_object_directory_is_for_leads_and_operators(
    client: Client, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    body = {
        "uscc": "91360731MA35XY0128",
        "name": "于都县新开超市有限公司",
        "kind": "enterprise",
        "address": "于都县贡江镇建设路8号",
        "legal_representative": "李四",
    }
    before = await _count(session_maker, InspectionObject)
    inspector = await login(client, "amr_a")
    assert (await client.get("/api/v1/objects", headers=inspector)).status_code == 403
    assert (await client.post("/api/v1/objects", json=body, headers=inspector)).status_code == 403
    lead = await login(client, "lead1")
    r = await client.post("/api/v1/objects", json=body, headers=lead)
    assert r.status_code == 422 and r.json()["code"] == "invalid-uscc"
    assert await _count(session_maker, InspectionObject) == before
    from tests.world import uscc

    body["uscc"] = uscc("91360731MA35XY013")
    assert (await client.post("/api/v1/objects", json=body, headers=lead)).status_code == 201
    assert (
        await client.post("/api/v1/objects", json=body, headers=await login(client, "op"))
    ).json()["code"] == "duplicate-object"
    found = (await client.get("/api/v1/objects?q=新开", headers=lead)).json()
    assert [o["name"] for o in found["items"]] == ["于都县新开超市有限公司"]


async def test_code_tables_need_a_signed_in_user(client: Client, world: World) -> None:
    assert (await client.get("/api/v1/code-tables")).status_code == 401
    r = await client.get("/api/v1/code-tables", headers=await login(client, "amr_a"))
    tables = {t["name"]: t for t in r.json()}
    results = {e["code"]: e for e in tables["result_category"]["entries"]}
    assert results["1"]["text"] == "未发现问题" and results["1"]["exclusive"] is True
    assert (
        results["6"]["text"] == "通过登记的住所（经营场所）无法联系"
        and results["6"]["business_signature"] is False
    )
    assert "A" in results["6"]["excludes"]
    measures = {e["code"]: e for e in tables["follow_up_measure"]["entries"]}
    assert measures["notify_department"]["referral"]["kind"] == "抄告"
    assert [e["text"] for e in tables["verification_method"]["entries"]][:2] == [
        "实地检查",
        "书面检查",
    ]
    one = await client.get(
        "/api/v1/code-tables/result_category/versions/1", headers=await login(client, "amr_b")
    )
    assert one.json()["version"] == 1
    assert (
        await client.get(
            "/api/v1/code-tables/result_category/versions/9", headers=await login(client, "amr_b")
        )
    ).status_code == 404

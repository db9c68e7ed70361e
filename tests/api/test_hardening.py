"""Bad input is a clear 4xx and changes nothing; races and failed commits never pass for success."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import AuditEvent, ConflictOfInterest, InspectionObject, Task
from backend.domain.audit import chain
from tests.world import PASSWORD, World, build_world, login, uscc

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def _count(maker: Maker, model: type, *where: object) -> int:
    async with maker() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def _task(w: World, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": "T-NEW",
        "name": "新任务",
        "plan_id": str(w["plan"]),
        "object_id": str(w["shop"]),
        "item_codes": ["FOOD-1"],
        "issued_on": "2026-11-30",
        "due_on": "2026-12-20",
        "inspector_ids": [str(w["amr_a"]), str(w["amr_b"])],
        "primary_inspector_id": str(w["amr_a"]),
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    "changes",
    [
        {"code": "Y" * 100},
        {"code": ""},
        {"code": "有空格 的编号"},
        {"name": "长" * 201},
        {"name": "   "},
        {"name": "a\u0000b"},
        {"batch_ref": "B" * 65},
        {"item_codes": []},
        {"item_codes": [f"X{i}" for i in range(31)]},
        {"inspector_ids": [str(uuid.uuid4()) for _ in range(21)]},
        {"due_on": "2026-02-30"},
    ],
)
async def test_bad_task_bodies_are_400(
    client: Client, world: World, session_maker: Maker, changes: dict[str, object]
) -> None:
    before = await _count(session_maker, Task)
    r = await client.post(
        "/api/v1/team/tasks", json=_task(world, **changes), headers=await login(client, "lead1")
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "validation-failed"
    assert await _count(session_maker, Task) == before


async def test_task_dates_must_sit_inside_the_plan(client: Client, world: World) -> None:
    r = await client.post(
        "/api/v1/team/tasks",
        json=_task(world, issued_on="2026-08-01"),
        headers=await login(client, "lead1"),
    )
    assert r.status_code == 422 and "开始日期" in r.json()["detail"]


@pytest.mark.parametrize(
    "changes",
    [
        {"name": ""},
        {"name": "名" * 201},
        {"address": " "},
        {"legal_representative": "x\u0000"},
        {"latitude": "abc", "longitude": "115.410000"},
        {"latitude": "25.95", "longitude": "115.41"},
        {"latitude": "25.950000"},
        {"risk_level": "Z"},
        {"legal_representative_phone": "call me"},
        {"uscc": "9" * 41},
    ],
)
async def test_bad_object_bodies_are_400(
    client: Client, world: World, session_maker: Maker, changes: dict[str, object]
) -> None:
    body = {
        "uscc": uscc("91360731MA35XY013"),
        "name": "于都县新开超市有限公司",
        "kind": "enterprise",
        "address": "于都县贡江镇建设路8号",
        "legal_representative": "李四",
        **changes,
    }
    before = await _count(session_maker, InspectionObject)
    r = await client.post("/api/v1/objects", json=body, headers=await login(client, "lead1"))
    assert r.status_code == 400, r.text
    assert await _count(session_maker, InspectionObject) == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tasks?offset=99999999999999999999",
        "/api/v1/audit?since=2026-01-01T00:00:00",
        "/api/v1/audit?until=2026-01-01T00:00:00",
        "/api/v1/audit?offset=99999999999999999999",
        "/api/v1/objects?offset=99999999999999999999",
        "/api/v1/objects?q=%00",
        "/api/v1/code-tables/result_category/versions/3000000000",
        "/api/v1/code-tables/result_category/versions/99999999999999999999",
        "/api/v1/calendar/years/99999",
    ],
)
async def test_bad_query_parameters_are_400(client: Client, world: World, url: str) -> None:
    user = (
        "op"
        if "/audit" in url or "/objects" in url
        else "lead1"
        if "/tasks" not in url
        else "amr_a"
    )
    r = await client.get(url, headers=await login(client, user))
    assert r.status_code == 400, (url, r.status_code, r.text)


async def test_object_search_ignores_case(client: Client, world: World) -> None:
    code = (
        await client.get("/api/v1/objects?q=于都县shop", headers=await login(client, "lead1"))
    ).json()["items"][0]["uscc"]
    found = (
        await client.get(
            f"/api/v1/objects?q={code[8:14].lower()}", headers=await login(client, "lead1")
        )
    ).json()
    assert [o["uscc"] for o in found["items"]] == [code]


async def test_a_failed_commit_is_a_500_and_stores_nothing(
    client: Client, world: World, session_maker: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await login(client, "amr_a")
    before = (
        await _count(session_maker, ConflictOfInterest),
        await _count(session_maker, AuditEvent),
    )

    def broken_append(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(chain, "append", broken_append)
    r = await client.post(
        "/api/v1/me/conflicts",
        json={"object_id": str(world["factory"]), "reason": "亲属任职"},
        headers=headers,
    )
    assert r.status_code == 500
    assert r.json()["code"] == "internal-error"
    assert (
        await _count(session_maker, ConflictOfInterest),
        await _count(session_maker, AuditEvent),
    ) == before


async def test_concurrent_registrations_of_one_code_give_one_object_and_409s(
    client: Client, world: World, session_maker: Maker
) -> None:
    headers = await login(client, "lead1")
    body = {
        "uscc": uscc("91360731MA35XY013"),
        "name": "于都县新开超市有限公司",
        "kind": "enterprise",
        "address": "于都县贡江镇建设路8号",
        "legal_representative": "李四",
    }
    responses = await asyncio.gather(
        *(client.post("/api/v1/objects", json=body, headers=headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert await _count(session_maker, InspectionObject, InspectionObject.uscc == body["uscc"]) == 1


async def test_concurrent_first_sign_ins_of_one_install(client: Client, world: World) -> None:
    device = str(uuid.uuid4())
    body = {"username": "amr_a", "password": PASSWORD, "device_id": device}
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/login", json=body) for _ in range(4))
    )
    assert [r.status_code for r in responses] == [200] * 4


async def test_signing_in_again_ends_the_earlier_session_on_that_device(
    client: Client, world: World
) -> None:
    body = {"username": "amr_a", "password": PASSWORD, "device_id": str(uuid.uuid4())}
    first = (await client.post("/api/v1/auth/login", json=body)).json()
    second = (await client.post("/api/v1/auth/login", json=body)).json()
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).status_code == 401
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {first['access_token']}"})
    ).status_code == 401
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    ).status_code == 200


async def test_an_invalid_uscc_refusal_is_recorded(
    client: Client, world: World, session_maker: Maker
) -> None:
    body = {
        "uscc": "91360731MA35XY0128",
        "name": "于都县新开超市有限公司",
        "kind": "enterprise",
        "address": "于都县贡江镇建设路8号",
        "legal_representative": "李四",
    }
    assert (
        await client.post("/api/v1/objects", json=body, headers=await login(client, "lead1"))
    ).status_code == 422
    async with session_maker() as s:
        [event] = (
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "rule_refused"))
        ).all()
    assert event.details["error"] == "invalid-uscc" and event.actor_user_id == world["lead1"]

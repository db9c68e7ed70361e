"""The foundation's actions leave events — in the same transaction, with actor and request id."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar, post
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import AuditEvent
from backend.domain.audit import chain
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.errors import InvalidInput
from backend.http.deps import AuditUnit
from tests.world import PASSWORD, World, build_world, login

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def _events(maker: Maker, *actions: AuditAction) -> list[AuditEvent]:
    async with maker() as s:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if actions:
            query = query.where(AuditEvent.action.in_([a.value for a in actions]))
        return list((await s.scalars(query)).all())


async def test_world_building_left_system_events(session_maker: Maker, world: World) -> None:
    events = await _events(session_maker)
    assert [(e.action, e.actor_role) for e in events] == [("task_assigned", "system")] * 2


async def test_sign_in_and_device_registration(
    client: Client, world: World, session_maker: Maker
) -> None:
    device = uuid.uuid4()
    body = {
        "username": "amr_a",
        "password": PASSWORD,
        "device_id": str(device),
        "device_name": "手机",
    }
    assert (
        await client.post("/api/v1/auth/login", json=body, headers={"X-Request-ID": "sign-in-1"})
    ).status_code == 200
    assert (await client.post("/api/v1/auth/login", json=body)).status_code == 200
    events = await _events(session_maker, AuditAction.LOGIN, AuditAction.DEVICE_REGISTERED)
    assert [e.action for e in events] == ["device_registered", "login", "login"]
    first = events[0]
    assert (first.actor_user_id, first.actor_device_id, first.actor_role) == (
        world["amr_a"],
        device,
        "inspector",
    )
    assert first.request_id.startswith("sign-in-1.") and first.after_digest
    # a failed sign-in changes nothing but is recorded (after the response)
    await client.post("/api/v1/auth/login", json={**body, "password": "wrong"})
    assert len(await _events(session_maker, AuditAction.LOGIN)) == 2
    [failed] = await _events(session_maker, AuditAction.LOGIN_FAILED)
    assert failed.details["username"] == "amr_a" and failed.actor_role == "anonymous"


async def test_logout(client: Client, world: World, session_maker: Maker) -> None:
    headers = await login(client, "amr_b")
    await client.post("/api/v1/auth/logout", headers=headers)
    [event] = await _events(session_maker, AuditAction.LOGOUT)
    assert event.actor_user_id == world["amr_b"]


async def test_refresh_token_reuse_is_recorded_although_the_request_fails(
    client: Client, world: World, session_maker: Maker
) -> None:
    device = uuid.uuid4()
    body = {"username": "amr_a", "password": PASSWORD, "device_id": str(device)}
    tokens = (await client.post("/api/v1/auth/login", json=body)).json()
    await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    r = await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"X-Request-ID": "replay"},
    )
    assert r.status_code == 401
    [event] = await _events(session_maker, AuditAction.REFRESH_TOKEN_REUSE_DETECTED)
    assert (event.subject_id, event.actor_user_id) == (str(device), world["amr_a"])
    assert event.request_id.startswith("replay.")


def _task_body(w: World, code: str, inspectors: tuple[str, str]) -> dict[str, object]:
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


async def test_assignment_and_its_refusal(
    client: Client, world: World, session_maker: Maker
) -> None:
    headers = {**await login(client, "lead1"), "X-Request-ID": "issue-1"}
    r = await client.post(
        "/api/v1/team/tasks", json=_task_body(world, "T-A", ("amr_a", "amr_c")), headers=headers
    )
    assert r.status_code == 201
    assigned = (await _events(session_maker, AuditAction.TASK_ASSIGNED))[-1]
    assert (
        assigned.task_id == uuid.UUID(r.json()["id"]) and assigned.actor_user_id == world["lead1"]
    )
    assert assigned.request_id.startswith("issue-1.") and assigned.details["inspector_ids"] == [
        str(world["amr_a"]),
        str(world["amr_c"]),
    ]
    before = len(await _events(session_maker, AuditAction.TASK_ASSIGNED))

    r = await client.post(
        "/api/v1/team/tasks",
        json=_task_body(world, "T-B", ("amr_a", "unqualified_u")),
        headers={**headers, "X-Request-ID": "issue-2"},
    )
    assert r.status_code == 422
    [refused] = await _events(session_maker, AuditAction.RULE_REFUSED)
    assert (refused.actor_user_id, refused.subject_id) == (world["lead1"], "T-B")
    assert refused.request_id.startswith("issue-2.")
    assert refused.details["error"] == "inspector-not-qualified"
    assert len(await _events(session_maker, AuditAction.TASK_ASSIGNED)) == before


async def test_recusal_and_object_registration(
    client: Client, world: World, session_maker: Maker
) -> None:
    a = await login(client, "amr_a")
    await client.post(
        "/api/v1/me/conflicts",
        json={"object_id": str(world["factory"]), "reason": "亲属在该企业任职"},
        headers=a,
    )
    [declared] = await _events(session_maker, AuditAction.CONFLICT_OF_INTEREST_DECLARED)
    assert declared.reason == "亲属在该企业任职" and declared.actor_user_id == world["amr_a"]
    from tests.world import uscc

    body = {
        "uscc": uscc("91360731MA35XY013"),
        "name": "于都县新开超市有限公司",
        "kind": "enterprise",
        "address": "于都县贡江镇建设路8号",
        "legal_representative": "李四",
    }
    await client.post("/api/v1/objects", json=body, headers=await login(client, "op"))
    [registered] = await _events(session_maker, AuditAction.OBJECT_REGISTERED)
    assert registered.details["uscc"] == body["uscc"] and registered.actor_role == "operator"


async def test_a_failed_request_leaves_no_event(
    app: Litestar, client: Client, world: World, session_maker: Maker
) -> None:
    @post("/api/v1/test/fails-after-recording", operation_id="testFails")
    async def fails(audit: AuditUnit) -> None:
        audit.record(AuditAction.CALENDAR_CHANGED, subject_kind="calendar", subject_id="2027")
        raise InvalidInput("the change failed after it was recorded")

    app.register(fails)
    headers = await login(client, "op")
    before = len(await _events(session_maker))
    r = await client.post("/api/v1/test/fails-after-recording", headers=headers)
    assert r.status_code == 422
    assert len(await _events(session_maker)) == before
    async with session_maker() as s:
        assert (await s.run_sync(chain.verify, [])).intact


def test_audit_unit_type_is_importable_at_runtime() -> None:
    assert Audit.__name__ == "Audit"

"""Push and pull over HTTP and the database: the protocol's promises, scoped to the caller."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import AuditEvent, DeviceSync, MutationLogEntry, SyncMeta, SyncRecord, Task
from backend.domain.sync.store import lock_counter
from tests.phone import HLC_MS, Phone, check_item
from tests.world import PASSWORD, World, build_world

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def test_first_pull_brings_the_tasks_whole(client: Client, world: World) -> None:
    a = await Phone(client, "amr_a").login()
    page = await a.pull()
    assert [t["code"] for t in page["tasks"]] == ["T-1"]
    task = page["tasks"][0]
    points = [p for item in task["items"] for p in item["checklist"]]
    assert {p["check_item_id"] for p in points} == {
        rid for (e, rid) in a.records if e == "check_item"
    }
    assert {e for e, _ in a.records} == {"check_item", "result"}
    assert page["code_tables"] and page["last_seq"] == 0 and page["reset"] is False
    assert task["deadlines"]["due_at"] and task["light"]["color"]


async def test_push_applies_once_and_pull_confirms(
    client: Client, world: World, session_maker: Maker
) -> None:
    a = await Phone(client, "amr_a").login()
    await a.pull()
    t1 = str(world["t1"])
    item = check_item(a, t1)
    mutation = a.set("check_item", item, t1, conforms=False, problem_text="灭火器过期")
    r = await a.push(mutation, pending_mutations=1, pending_files=2)
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["applied"] and r.json()["last_seq"] == 1
    again = await a.push(mutation, pending_mutations=1, pending_files=2)
    assert [x["outcome"] for x in again.json()["results"]] == ["skipped"]
    page = await a.pull()
    assert page["last_seq"] == 1
    fields = a.records[("check_item", item)]["fields"]
    assert fields["conforms"]["value"] is False and fields["problem_text"]["value"] == "灭火器过期"
    async with session_maker() as s:
        assert await s.scalar(select(func.count()).select_from(MutationLogEntry)) == 1
        state = await s.get(DeviceSync, uuid.UUID(a.device))
        assert state is not None and (state.pending_mutations, state.pending_files) == (1, 2)
        actions = (
            await s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("mutation%")))
        ).all()
        assert actions == ["mutation_applied"]


async def test_concurrent_edits_leave_a_conflict_both_see(client: Client, world: World) -> None:
    a, b = (
        await Phone(client, "amr_a").login(),
        await Phone(client, "amr_b", HLC_MS + 60_000).login(),
    )
    await a.pull()
    await b.pull()
    t1 = str(world["t1"])
    item = check_item(a, t1)
    assert (await a.push(a.set("check_item", item, t1, conforms=True))).status_code == 200
    assert (await b.push(b.set("check_item", item, t1, conforms=False))).status_code == 200
    for phone in (a, b):
        page = await phone.pull()
        [conflict] = page["conflicts"]
        assert conflict["field"] == "conforms" and {
            conflict["winner"]["value"],
            conflict["loser"]["value"],
        } == {True, False}
    assert (
        a.records[("check_item", item)]["fields"]["conforms"]["value"] is False
    )  # b's HLC is greater


async def test_bad_mutations_are_stored_and_reported_never_dropped(
    client: Client, world: World
) -> None:
    a = await Phone(client, "amr_a").login()
    await a.pull()
    t1 = str(world["t1"])
    bad = a.mutation(
        "set",
        "check_item",
        check_item(a, t1),
        t1,
        {"conforms": "yes"},
        base_versions={"conforms": 0},
    )
    good = a.set("check_item", check_item(a, t1), t1, conforms=True)
    foreign = a.mutation(
        "create", "finding", str(uuid.uuid4()), str(world["t2"]), {"text": "不是我的任务"}
    )
    r = await a.push(bad, good, foreign)
    assert r.status_code == 200
    assert [(x["outcome"], x["reason_code"]) for x in r.json()["results"]] == [
        ("rejected", "invalid"),
        ("applied", None),
        ("rejected", "unauthorized"),
    ]
    page = await a.pull()
    assert [x["reason_code"] for x in page["rejections"]] == ["invalid", "unauthorized"]
    assert '"yes"' in page["rejections"][0]["payload"]
    other = await Phone(client, "amr_b").login()
    assert (await other.pull())["rejections"] == []


async def test_envelope_errors(client: Client, world: World) -> None:
    a = await Phone(client, "amr_a").login()
    body = {
        "protocol_version": 1,
        "app_version": "t",
        "client_id": str(uuid.uuid4()),
        "mutations": [],
    }
    assert (await client.post("/api/v1/sync/push", json=body, headers=a.headers)).status_code == 422
    old = await client.post(
        "/api/v1/sync/push",
        json={**body, "client_id": a.device, "protocol_version": 99},
        headers=a.headers,
    )
    assert old.status_code == 422 and old.json()["code"] == "unsupported-protocol"
    assert (
        await client.post("/api/v1/sync/push", json={"mutations": []}, headers=a.headers)
    ).status_code == 400
    assert (
        await client.post("/api/v1/sync/pull", json={"protocol_version": 1}, headers=a.headers)
    ).status_code == 400
    assert (await client.post("/api/v1/sync/push", json=body)).status_code == 401
    # what the device says it holds must be storable: a time with its offset, counts that fit
    mine = {**body, "client_id": a.device}
    for bad in (
        {"oldest_pending_at": "2026-11-30T09:12:00"},
        {"pending_mutations": 2**31},
        {"pending_files": -1},
    ):
        r = await client.post("/api/v1/sync/push", json={**mine, **bad}, headers=a.headers)
        assert r.status_code == 400, (bad, r.text)
    good = {"oldest_pending_at": "2026-11-30T09:12:00+08:00", "pending_mutations": 3}
    assert (
        await client.post("/api/v1/sync/push", json={**mine, **good}, headers=a.headers)
    ).status_code == 200
    op = await client.post(
        "/api/v1/auth/login",
        json={"username": "op", "password": PASSWORD, "device_id": str(uuid.uuid4())},
    )
    op_headers = {"Authorization": f"Bearer {op.json()['access_token']}"}
    assert (
        await client.post("/api/v1/sync/pull", json=body, headers=op_headers)
    ).status_code == 403


async def test_pulls_are_scoped_to_my_tasks(client: Client, world: World) -> None:
    c = await Phone(client, "amr_c").login()
    page = await c.pull()
    assert page["tasks"] == [] and page["records"] == []
    x = await Phone(client, "other_x").login()
    assert {t["code"] for t in (await x.pull())["tasks"]} == {"T-2"}


async def test_results_move_the_deadlines_and_the_task(
    client: Client, world: World, session_maker: Maker
) -> None:
    a = await Phone(client, "amr_a").login()
    await a.pull()
    t1 = str(world["t1"])
    from sync import server_record_id

    result_id = str(server_record_id(world["t1"], "result"))
    r = await a.push(
        a.set("result", result_id, t1, checked_at="2026-11-30T09:00:00+08:00"),
        a.mutation("transition", "task", t1, t1, {"to": "in_progress"}),
    )
    assert [x["outcome"] for x in r.json()["results"]] == ["applied", "applied"]
    page = await a.pull()
    [task] = page["tasks"]
    assert task["status"] == "in_progress"
    assert task["deadlines"]["entry_deadline_at"] == "2026-12-02T09:00:00+08:00"
    assert task["items"] is None  # already known: not sent whole again
    async with session_maker() as s:
        row = await s.get(Task, world["t1"])
        assert row is not None and row.checked_at is not None
    submit = await a.push(a.mutation("transition", "task", t1, t1, {"to": "submitted"}))
    assert submit.json()["results"][0]["outcome"] == "applied"
    late = await a.push(a.set("check_item", check_item(a, t1), t1, conforms=True))
    assert late.json()["results"][0]["outcome"] == "amendment"


async def test_paging_keeps_one_snapshot(client: Client, world: World) -> None:
    a = await Phone(client, "amr_a").login()
    first = await a.pull(limit=2)
    assert first["has_more"] is True and first["next_cursor"] < first["until"]
    seen = {(r["entity"], r["id"]) for r in first["records"]}
    page = first
    while page["has_more"]:
        page = await a.pull(cursor=page["next_cursor"], until=first["until"], limit=2)
        assert page["until"] == first["until"]
        seen |= {(r["entity"], r["id"]) for r in page["records"]}
    whole = Phone(client, "amr_a")
    whole.device, whole.headers = a.device, a.headers
    assert seen == {(r["entity"], r["id"]) for r in (await whole.pull())["records"]}


async def test_a_cursor_the_server_never_gave_is_reset(client: Client, world: World) -> None:
    a = await Phone(client, "amr_a").login()
    page = await a.pull(cursor=10**9)
    assert page["reset"] is True and page["cursor"] == 0 and page["records"]


async def test_a_late_commit_is_not_skipped(
    client: Client, world: World, session_maker: Maker
) -> None:
    """A writer holding the change counter blocks the next writer; a pull meanwhile stops below both."""
    a = await Phone(client, "amr_a").login()
    await a.pull()
    before = a.cursor
    t1 = world["t1"]
    first_may_commit = asyncio.Event()
    second_started = asyncio.Event()

    async def writer(name: str, wait: asyncio.Event | None) -> int:
        from backend.db.engine import write_intent

        with write_intent():
            async with session_maker() as session, session.begin():
                meta = await lock_counter(session)
                meta.seq += 1
                version = meta.seq
                session.add(
                    SyncRecord(
                        entity="finding",
                        id=uuid.uuid4(),
                        task_id=t1,
                        version=version,
                        deleted=False,
                        fields={
                            "text": {
                                "value": name,
                                "version": version,
                                "hlc": "x",
                                "client_id": "server",
                                "user_id": None,
                                "mutation_id": None,
                            }
                        },
                    )
                )
                await session.flush()
                if wait is not None:
                    second_started.set()
                    await wait.wait()
                return version

    first = asyncio.create_task(writer("first", first_may_commit))
    await second_started.wait()
    second = asyncio.create_task(writer("second", None))
    await asyncio.sleep(0.05)
    assert not second.done()  # the second writer waits for the counter
    during = await a.pull()
    assert during["until"] == before and during["records"] == []
    first_may_commit.set()
    versions = sorted(await asyncio.gather(first, second))
    assert versions == [before + 1, before + 2]
    after = await a.pull()
    assert sorted(r["fields"]["text"]["value"] for r in after["records"]) == ["first", "second"]
    async with session_maker() as s:
        assert (await s.get(SyncMeta, 1)).seq == before + 2  # type: ignore[union-attr]


async def test_devices_belong_to_one_user(client: Client, world: World) -> None:
    a = await Phone(client, "amr_a").login()
    b = await Phone(client, "amr_b").login()
    mine = await client.post(
        "/api/v1/devices", json={"device_id": a.device, "name": "新名字"}, headers=a.headers
    )
    assert mine.status_code == 200 and mine.json()["user_id"] == str(world["amr_a"])
    theirs = await client.post("/api/v1/devices", json={"device_id": a.device}, headers=b.headers)
    assert theirs.status_code == 409


async def test_code_tables_follow_the_versions_the_phone_holds(
    client: Client, world: World
) -> None:
    a = await Phone(client, "amr_a").login()
    first = await a.pull()
    held = {t["name"]: t["version"] for t in first["code_tables"]}
    assert set(held) >= {"result_category", "follow_up_measure", "verification_method"}
    assert (await a.pull(code_table_versions=held))["code_tables"] is None
    stale = {**held, "result_category": 0}
    refreshed = await a.pull(code_table_versions=stale)
    assert [t["name"] for t in refreshed["code_tables"]] == ["result_category"]
    assert (await a.pull())["code_tables"] is None  # a later pull that names nothing gets nothing


async def test_ids_in_any_spelling_are_one_id(client: Client, world: World) -> None:
    a = await Phone(client, "amr_a").login()
    await a.pull()
    t1 = str(world["t1"])
    m = a.mutation("create", "finding", str(uuid.uuid4()), t1, {"text": "大写编号"})
    m["id"] = m["id"].upper()
    assert (await a.push(m)).json()["results"][0]["outcome"] == "applied"
    again = dict(m, seq=2)  # the same id sent again under a new seq
    a.seq = 2
    r = await a.push(again)
    assert r.status_code == 200 and r.json()["results"][0]["outcome"] == "duplicate"
    assert r.json()["last_seq"] == 2


async def test_an_unreadable_mutation_sent_again_is_a_duplicate_not_a_500(
    client: Client, world: World
) -> None:
    """Its id is read as leniently as the engine reads it, so the mutation log finds it."""
    a = await Phone(client, "amr_a").login()
    await a.pull()
    t1 = str(world["t1"])
    odd_id = dict(a.mutation("create", "finding", str(uuid.uuid4()), t1, {}), id="not-a-uuid")
    twice = a.mutation("create", "finding", str(uuid.uuid4()), t1, {"text": "编码两次"})
    broken = a.mutation("create", "finding", str(uuid.uuid4()), t1, {"text": "x"})
    raw_twice = json.dumps(json.dumps(twice))
    raw_broken = json.dumps(broken)[:-1]  # no closing brace

    async def send(*raws: str) -> Any:
        envelope = json.dumps({"protocol_version": 1, "app_version": "test", "client_id": a.device})
        body = envelope[:-1] + ',"mutations":[' + ",".join(raws) + "]}"
        return await client.post(
            "/api/v1/sync/push",
            content=body,
            headers={**a.headers, "Content-Type": "application/json"},
        )

    r = await send(json.dumps(odd_id), raw_twice, '"' + raw_broken.replace('"', '\\"') + '"')
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["rejected"] * 3
    # the phone lost the answer and sends all three again, each under a new seq
    again = [
        json.dumps(dict(odd_id, seq=4)),
        json.dumps(json.dumps(dict(twice, seq=5))),
        '"' + json.dumps(dict(broken, seq=6))[:-1].replace('"', '\\"') + '"',
    ]
    r = await send(*again)
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["duplicate"] * 3
    assert r.json()["last_seq"] == 6
    assert len((await a.pull())["rejections"]) == 3


async def test_nul_anywhere_is_a_rejection_not_a_500(client: Client, world: World) -> None:
    a = await Phone(client, "amr_a").login()
    await a.pull()
    t1 = str(world["t1"])
    bad_field = a.mutation(
        "set", "check_item", check_item(a, t1), t1, {"conf\u0000orms": True}, base_versions={}
    )
    bad_note = a.mutation(
        "resolve_conflict",
        "conflict",
        str(uuid.uuid4()),
        t1,
        {"conflict_id": str(uuid.uuid4()), "note": "a\u0000b"},
    )
    bad_entity = a.mutation("create", "fin\u0000ding", str(uuid.uuid4()), t1, {"text": "x"})
    r = await a.push(bad_field, bad_note, bad_entity)
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["rejected"] * 3
    assert all("\x00" not in x["reason"] for x in r.json()["results"])
    assert len((await a.pull())["rejections"]) == 3


async def test_a_paged_first_pull_brings_every_task_whole(
    client: Client, world: World, session_maker: Maker, clock: FixedClock
) -> None:
    from datetime import date

    from backend.domain.audit.service import Actor, Audit
    from backend.domain.tasks.services import TaskService
    from tests.world import new_task

    async with session_maker() as session, session.begin():
        service = TaskService(session, clock, Audit(session, clock, Actor.system()))
        for n in range(4):
            await service.create_task(
                new_task(
                    world,
                    f"T-P{n}",
                    inspectors=["amr_a", "amr_b"],
                    items=["FOOD-1"],
                    due_on=date(2026, 12, 20),
                ),
                team_id=world["team1"],
                by_user_id=world["lead1"],
            )
    a = await Phone(client, "amr_a").login()
    page = await a.pull(limit=3)
    tasks = {t["id"]: t for t in page["tasks"]}
    origin, until = 0, page["until"]
    while page["has_more"]:
        page = await a.pull(cursor=page["next_cursor"], until=until, origin=origin, limit=3)
        for t in page["tasks"]:
            tasks[t["id"]] = t
    assert len(tasks) == 5 and all(t["items"] for t in tasks.values())


async def test_a_new_assignee_gets_the_tasks_conflicts(client: Client, world: World) -> None:
    t1 = str(world["t1"])
    a, b = (
        await Phone(client, "amr_a").login(),
        await Phone(client, "amr_b", HLC_MS + 60_000).login(),
    )
    c = await Phone(client, "amr_c").login()
    for phone in (a, b, c):
        await phone.pull()
    item = check_item(a, t1)
    await a.push(a.set("check_item", item, t1, conforms=True))
    await b.push(b.set("check_item", item, t1, conforms=False))
    lead = {
        "Authorization": (
            await client.post(
                "/api/v1/auth/login",
                json={"username": "lead1", "password": PASSWORD, "device_id": str(uuid.uuid4())},
            )
        ).json()["access_token"]
    }
    lead["Authorization"] = "Bearer " + lead["Authorization"]
    r = await client.put(
        f"/api/v1/team/tasks/{t1}/assignment",
        headers=lead,
        json={
            "inspector_ids": [str(world["amr_b"]), str(world["amr_c"])],
            "primary_inspector_id": str(world["amr_b"]),
            "reason": "人员调整",
        },
    )
    assert r.status_code == 200
    page = await c.pull()
    assert [x["field"] for x in page["conflicts"]] == ["conforms"]

"""The task feed: every change to a task (created, changed, withdrawn) is a new version at a new
place in the feed; a page lists the latest version of each task changed after the cursor, once,
in the order changed, at most ``limit``; a cursor it did not hand out is a 400. Tasks come from
the settings (the demo's) and the controls, which validate them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from backend.platform.identities import subject_of

from .api_world import World, bearer, running

pytestmark = pytest.mark.anyio
TIME_LIMIT_SECONDS = 20
FEED = "/api/tasks/feed"


def task(code: str = "RW-2026-001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": "2026年食品经营者双随机抽查",
        "plan": {
            "code": "PLAN-2026-01",
            "name": "2026年度抽查计划",
            "starts_on": "2026-03-01",
            "ends_on": "2026-12-31",
        },
        "object": {
            "uscc": "91330100MA2XXXXX1K",
            "name": "杭州某某食品有限公司",
            "address": "杭州市西湖区某路1号",
            "legal_representative": "张三",
            "phone": "0571-88888888",
        },
        "item_codes": ["SP-001", "SP-002"],
        "department_code": "11330100002482034K",
        "inspector_subjects": [subject_of("insp01"), subject_of("insp02")],
        "primary_subject": subject_of("insp01"),
        "issued_on": "2026-11-30",
        "due_on": "2026-12-20",
    }
    body.update(changes)
    return body


async def put_task(world: World, task_ref: str, body: Any) -> Any:
    return await world.http.put(f"/control/tasks/{task_ref}", json=body)


async def read(world: World, cursor: str | None = None, limit: int | None = None) -> Any:
    params: dict[str, str | int] = {}
    if cursor is not None:
        params["cursor"] = cursor
    if limit is not None:
        params["limit"] = limit
    r = await world.http.get(FEED, params=params, headers=bearer(await world.client_token()))
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_empty_feed_has_a_cursor_and_nothing_more(world: World) -> None:
    page = await read(world)
    assert (page["items"], page["more"]) == ([], False)
    assert (await read(world, page["cursor"]))["items"] == []


async def test_a_created_task_arrives_whole_then_only_its_changes(world: World) -> None:
    r = await put_task(world, "t-1", task())
    assert r.status_code == 200, r.text
    assert r.json() == {"task_ref": "t-1", "version": 1, "state": "active", "task": task()}
    page = await read(world)
    assert page["items"] == [{"task_ref": "t-1", "version": 1, "state": "active", "task": task()}]
    assert page["more"] is False
    assert (await read(world, page["cursor"]))["items"] == []
    changed = task(due_on="2026-12-25")
    assert (await put_task(world, "t-1", changed)).json()["version"] == 2
    later = await read(world, page["cursor"])
    assert [(i["task_ref"], i["version"], i["task"]["due_on"]) for i in later["items"]] == [
        ("t-1", 2, "2026-12-25")
    ]
    r = await world.http.delete("/control/tasks/t-1")
    assert r.json() == {"task_ref": "t-1", "version": 3, "state": "withdrawn", "task": None}
    withdrawn = await read(world, later["cursor"])
    assert withdrawn["items"] == [
        {"task_ref": "t-1", "version": 3, "state": "withdrawn", "task": None}
    ]
    again = await world.http.delete("/control/tasks/t-1")  # already withdrawn: no new version
    assert again.json()["version"] == 3
    assert (await read(world, withdrawn["cursor"]))["items"] == []


async def test_a_page_lists_each_task_once_at_its_latest_version(world: World) -> None:
    for ref in ["a", "b", "c"]:
        await put_task(world, ref, task(code=f"RW-{ref}"))
    await put_task(world, "a", task(code="RW-a", name="改过"))  # a moves behind c
    await world.http.delete("/control/tasks/b")
    page = await read(world)
    assert [(i["task_ref"], i["version"], i["state"]) for i in page["items"]] == [
        ("c", 1, "active"),
        ("a", 2, "active"),
        ("b", 2, "withdrawn"),
    ]


async def test_the_cursor_pages_through_with_limit(world: World) -> None:
    for n in range(7):
        await put_task(world, f"t-{n}", task(code=f"RW-{n}"))
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        page = await read(world, cursor, limit=3)
        pages += 1
        assert len(page["items"]) <= 3
        seen += [i["task_ref"] for i in page["items"]]
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert seen == [f"t-{n}" for n in range(7)] and pages == 3
    await put_task(world, "t-0", task(code="RW-0", name="又改了"))
    page = await read(world, cursor, limit=3)
    assert [(i["task_ref"], i["version"]) for i in page["items"]] == [("t-0", 2)]
    assert page["more"] is False


async def test_a_change_during_paging_is_seen_once_later(world: World) -> None:
    for n in range(4):
        await put_task(world, f"t-{n}", task(code=f"RW-{n}"))
    first = await read(world, limit=2)
    assert [i["task_ref"] for i in first["items"]] == ["t-0", "t-1"]
    await put_task(world, "t-0", task(code="RW-0", name="改"))  # already read: comes again
    await put_task(world, "t-3", task(code="RW-3", name="改"))  # not read yet: comes once
    rest = await read(world, first["cursor"], limit=10)
    assert [(i["task_ref"], i["version"]) for i in rest["items"]] == [
        ("t-2", 1),
        ("t-0", 2),
        ("t-3", 2),
    ]


@pytest.mark.parametrize(
    "cursor", ["not-a-cursor", "!!!", "MTIzNDU2NzguMQ", "%%", "bm9wZQ"], ids=str
)
async def test_a_cursor_the_feed_did_not_hand_out_is_a_400(world: World, cursor: str) -> None:
    r = await world.http.get(
        FEED, params={"cursor": cursor}, headers=bearer(await world.client_token())
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_cursor"), r.text


async def test_a_cursor_from_another_platform_instance_or_the_future_is_a_400() -> None:
    async with running() as before_restart:
        await put_task(before_restart, "t-1", task())
        old_cursor = (await read(before_restart))["cursor"]
    async with running() as world:
        token = bearer(await world.client_token())
        r = await world.http.get(FEED, params={"cursor": old_cursor}, headers=token)
        assert (r.status_code, r.json()["error"]) == (400, "invalid_cursor")
        assert "without" in r.json()["error_description"]


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "1.5", ""])
async def test_limit_is_1_to_500(world: World, limit: str) -> None:
    r = await world.http.get(
        FEED, params={"limit": limit}, headers=bearer(await world.client_token())
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request"), r.text


async def test_the_settings_seed_the_feed() -> None:
    async with running(tasks=({"task_ref": "demo-1", **task()},)) as world:
        page = await read(world, limit=500)
        assert page["items"] == [
            {"task_ref": "demo-1", "version": 1, "state": "active", "task": task()}
        ]
    with pytest.raises(Exception, match="task_ref"):
        async with running(tasks=(task(),)):
            pass


def broken(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(task())
    *parents, last = path.split(".")
    target = body
    for name in parents:
        target = target[name]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(broken("code", ""), id="empty-code"),
        pytest.param(broken("unknown", 1), id="unknown-field"),
        pytest.param(broken("plan.unknown", 1), id="unknown-plan-field"),
        pytest.param(broken("plan.ends_on", "2026-01-01"), id="plan-ends-before-it-starts"),
        pytest.param(broken("object.uscc", "123"), id="bad-uscc"),
        pytest.param(broken("department_code", "91330100MA2XXXXX1I"), id="uscc-with-I"),
        pytest.param(broken("item_codes", []), id="no-items"),
        pytest.param(broken("inspector_subjects", []), id="no-inspectors"),
        pytest.param(broken("primary_subject", subject_of("insp09")), id="primary-not-on-team"),
        pytest.param(broken("due_on", "2026-11-01"), id="due-before-issued"),
        pytest.param(broken("issued_on", "30/11/2026"), id="not-a-date"),
        pytest.param(broken("object", ...), id="no-object"),
        pytest.param([task()], id="not-an-object"),
    ],
)
async def test_a_bad_task_is_a_400_and_not_in_the_feed(world: World, body: Any) -> None:
    r = await put_task(world, "t-1", body)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request"), r.text
    assert r.json()["error_description"]
    assert (await read(world))["items"] == []


async def test_withdrawing_an_unknown_task_is_a_404(world: World) -> None:
    r = await world.http.delete("/control/tasks/nope")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")

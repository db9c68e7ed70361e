"""The calendar, deadline and board API: answers, warnings, operator loads, recomputation, scoping."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import AuditEvent, CalendarYear, Task, TaskStatus
from backend.domain.audit.service import Actor, Audit
from backend.domain.deadlines.services import DeadlineService
from backend.domain.tasks.services import TaskService
from tests.world import World, build_world, login, new_task

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]

YEAR_2027 = """year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知（测试用）
holiday 2027-01-01 2027-01-03 元旦
holiday 2027-02-06 2027-02-12 春节
workday 2027-02-13 春节调休上班
"""


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def test_years_and_days(client: Client, world: World) -> None:
    assert (await client.get("/api/v1/calendar/years")).status_code == 401
    headers = await login(client, "amr_a")
    years = (await client.get("/api/v1/calendar/years", headers=headers)).json()
    assert [y["year"] for y in years] == list(range(2020, 2027))
    assert all(y["origin"] == "shipped" and "国办发明电" in y["source"] for y in years)
    detail = (await client.get("/api/v1/calendar/years/2026", headers=headers)).json()
    assert (
        "holiday 2026-10-01 2026-10-07 国庆节" in detail["text"] and detail["makeup_workdays"] == 6
    )
    missing = await client.get("/api/v1/calendar/years/2027", headers=headers)
    assert missing.status_code == 404 and missing.json()["loaded"] is False
    day = (await client.get("/api/v1/calendar/days/2026-02-14", headers=headers)).json()
    assert (day["working"], day["kind"], day["calendar_loaded"], day["warning"]) == (
        True,
        "makeup_workday",
        True,
        None,
    )
    unloaded = (await client.get("/api/v1/calendar/days/2027-01-01", headers=headers)).json()
    assert unloaded["calendar_loaded"] is False and "2027" in unloaded["warning"]


@pytest.mark.parametrize(
    ("start", "days", "expected", "deadline_at"),
    [
        ("2025-09-29", 20, "2025-11-03", "2025-11-04T00:00:00+08:00"),
        ("2026-02-13", 1, "2026-02-14", "2026-02-15T00:00:00+08:00"),
        ("2025-12-31", 1, "2026-01-04", "2026-01-05T00:00:00+08:00"),
    ],
)
async def test_add_working_days_api(
    client: Client, world: World, start: str, days: int, expected: str, deadline_at: str
) -> None:
    r = await client.get(
        f"/api/v1/calendar/add-working-days?start={start}&days={days}",
        headers=await login(client, "amr_a"),
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["date"], body["deadline_at"], body["calendar_complete"], body["warning"]) == (
        expected,
        deadline_at,
        True,
        None,
    )


async def test_a_year_not_loaded_is_answered_with_the_warning(client: Client, world: World) -> None:
    headers = await login(client, "amr_a")
    body = (
        await client.get(
            "/api/v1/calendar/add-working-days?start=2026-12-30&days=3", headers=headers
        )
    ).json()
    assert (
        body["date"] == "2027-01-04"
        and body["calendar_complete"] is False
        and body["assumed_years"] == [2027]
    )
    assert "2027年的官方节假日安排尚未载入" in body["warning"]
    count = (
        await client.get(
            "/api/v1/calendar/count-working-days?start=2026-12-30&end=2027-01-04", headers=headers
        )
    ).json()
    assert (count["working_days"], count["calendar_complete"]) == (3, False)
    for bad in (
        "start=2026-12-30&days=0",
        "start=2026-12-30",
        "start=20261230&days=1",
        "start=2026-12-30&days=99999",
    ):
        assert (
            await client.get(f"/api/v1/calendar/add-working-days?{bad}", headers=headers)
        ).status_code == 400, bad


async def _checked_task(
    session_maker: Maker, clock: FixedClock, w: World, checked_at: datetime
) -> Task:
    async with session_maker() as session, session.begin():
        audit = Audit(session, clock, Actor.system())
        task = await TaskService(session, clock, audit).create_task(
            new_task(
                w,
                "T-CHK",
                inspectors=["amr_a", "amr_b"],
                items=["FOOD-1"],
                due_on=date(2026, 12, 31),
            ),
            team_id=w["team1"],
            by_user_id=w["lead1"],
        )
        task.status = TaskStatus.SUBMITTED
        task.checked_at = checked_at
        task.results_entered_at = checked_at
        await DeadlineService(session, audit).recompute([task.id])
        return task


async def test_operator_loads_a_year_and_deadlines_move(
    client: Client, world: World, session_maker: Maker, clock: FixedClock
) -> None:
    task = await _checked_task(
        session_maker, clock, world, datetime(2026, 12, 28, 2, 0, tzinfo=UTC)
    )
    headers = await login(client, "amr_a")
    before = (await client.get(f"/api/v1/tasks/{task.id}", headers=headers)).json()["deadlines"]
    # 20 working days after 2026-12-28 with 2027 counted as plain weekends
    assert before["publication_deadline_at"] == "2027-01-26T00:00:00+08:00"
    assert (
        before["calendar_complete"] is False
        and before["assumed_years"] == [2027]
        and before["warning"]
    )

    async with session_maker() as s:
        version_before = (await s.get(Task, task.id)).sync_version  # type: ignore[union-attr]
    op = await login(client, "op")
    r = await client.put("/api/v1/calendar/years/2027", json={"text": YEAR_2027}, headers=op)
    assert r.status_code == 200, r.text
    async with session_maker() as s:
        assert (await s.get(Task, task.id)).sync_version > version_before  # type: ignore[union-attr]  # phones pull it
    assert r.json()["tasks_moved"] == 1 and r.json()["changed"] is True
    after = (await client.get(f"/api/v1/tasks/{task.id}", headers=headers)).json()["deadlines"]
    # 2027-01-01 (Fri) is now a holiday: one working day later
    assert after["publication_deadline_at"] == "2027-01-27T00:00:00+08:00"
    assert after["calendar_complete"] is True and after["warning"] is None
    async with session_maker() as s:
        [event] = (
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "calendar_changed"))
        ).all()
    assert event.details["tasks_moved"] == 1 and event.after_digest and event.before_digest is None
    again = (
        await client.put("/api/v1/calendar/years/2027", json={"text": YEAR_2027}, headers=op)
    ).json()
    assert again["changed"] is False and again["tasks_moved"] == 0


async def test_a_bad_calendar_is_refused_with_its_line_and_changes_nothing(
    client: Client, world: World, session_maker: Maker
) -> None:
    op = await login(client, "op")
    bad = YEAR_2027 + "workday 2027-03-03 错误\n"
    r = await client.put("/api/v1/calendar/years/2027", json={"text": bad}, headers=op)
    assert r.status_code == 422
    assert (
        r.json()["code"] == "invalid-calendar-file"
        and r.json()["line"] == 6
        and r.json()["detail"].startswith("第6行")
    )
    mismatch = await client.put("/api/v1/calendar/years/2028", json={"text": YEAR_2027}, headers=op)
    assert mismatch.status_code == 422
    assert (
        await client.put("/api/v1/calendar/years/2027", json={"txt": YEAR_2027}, headers=op)
    ).status_code == 400
    async with session_maker() as s:
        assert await s.scalar(select(func.count()).select_from(CalendarYear)) == 7
        assert (
            await s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "calendar_changed")
            )
            == 0
        )
    for user in ("lead1", "amr_a"):
        r = await client.put(
            "/api/v1/calendar/years/2027",
            json={"text": YEAR_2027},
            headers=await login(client, user),
        )
        assert r.status_code == 403, user


@pytest.mark.parametrize(
    ("checked_at", "now", "color"),
    [
        (
            "2026-12-01T23:30:00+08:00",
            "2026-12-02T23:30:00+08:00",
            "yellow",
        ),  # 24h left, across midnight
        ("2026-12-01T23:30:00+08:00", "2026-12-02T23:29:59+08:00", "green"),
        (
            "2026-12-01T23:30:00+08:00",
            "2026-12-03T23:30:00+08:00",
            "yellow",
        ),  # at the 48h instant: on time
        ("2026-12-01T23:30:00+08:00", "2026-12-03T15:30:01Z", "red"),  # one second past, in UTC
        ("2026-12-01T15:30:00Z", "2026-12-03T10:30:01-05:00", "red"),  # both in other offsets
    ],
)
async def test_evaluate_48_hour_lights(
    client: Client, world: World, checked_at: str, now: str, color: str
) -> None:
    body = {
        "status": "in_progress",
        "due_on": "2026-12-20",
        "plan_ends_on": "2026-12-31",
        "checked_at": checked_at,
        "now": now,
    }
    r = await client.post(
        "/api/v1/deadlines/evaluate", json=body, headers=await login(client, "amr_a")
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["light"]["color"] == color and out["light"]["phase"] == "entry"
    assert out["deadlines"]["entry_deadline_at"] == "2026-12-03T23:30:00+08:00"


async def test_evaluate_refuses_naive_times_and_bad_config(client: Client, world: World) -> None:
    headers = await login(client, "amr_a")
    base = {"due_on": "2026-12-20", "plan_ends_on": "2026-12-31"}
    naive = await client.post(
        "/api/v1/deadlines/evaluate",
        json={**base, "checked_at": "2026-12-01T10:00:00"},
        headers=headers,
    )
    assert naive.status_code == 422 and naive.json()["field"] == "checked_at"
    bad = await client.post(
        "/api/v1/deadlines/evaluate",
        json={**base, "config": {"entry_window_hours": -1}},
        headers=headers,
    )
    assert bad.status_code == 422
    unknown = await client.post(
        "/api/v1/deadlines/evaluate", json={**base, "config": {"nonsense": 1}}, headers=headers
    )
    assert unknown.status_code == 422


async def test_board_for_the_lead_ordered_by_urgency(
    client: Client, world: World, session_maker: Maker, clock: FixedClock
) -> None:
    async with session_maker() as session, session.begin():
        audit = Audit(session, clock, Actor.system())
        service = TaskService(session, clock, audit)
        soon = await service.create_task(
            new_task(
                world,
                "T-SOON",
                inspectors=["amr_a", "amr_c"],
                items=["FOOD-1"],
                due_on=date(2026, 12, 1),
            ),
            team_id=world["team1"],
            by_user_id=world["lead1"],
        )
        late = await service.create_task(
            new_task(
                world,
                "T-LATE",
                inspectors=["amr_b", "amr_c"],
                items=["FOOD-1"],
                due_on=date(2026, 12, 2),
            ),
            team_id=world["team1"],
            by_user_id=world["lead1"],
        )
        late.checked_at = datetime(
            2026, 11, 27, 1, 0, tzinfo=UTC
        )  # 73 hours before "now": results overdue
        await DeadlineService(session, audit).recompute([soon.id, late.id])
    board = (await client.get("/api/v1/team/board", headers=await login(client, "lead1"))).json()
    assert [t["code"] for t in board["tasks"]] == ["T-LATE", "T-SOON", "T-1"]
    assert [t["light"]["color"] for t in board["tasks"]] == ["red", "yellow", "green"]
    assert board["counts"] == {"red": 1, "yellow": 1, "green": 1}
    by = {i["inspector_id"]: i for i in board["by_inspector"]}
    assert (by[str(world["amr_c"])]["red"], by[str(world["amr_c"])]["yellow"]) == (1, 1)
    assert board["by_inspector"][0]["red"] == 1
    other = (await client.get("/api/v1/team/board", headers=await login(client, "lead2"))).json()
    assert [t["code"] for t in other["tasks"]] == ["T-2"]
    for user in ("amr_a", "op"):
        assert (
            await client.get("/api/v1/team/board", headers=await login(client, user))
        ).status_code == 403

"""My tasks: paged, filtered by status and due date, overdue flagged."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import Task, TaskStatus
from backend.domain.audit.service import Actor, Audit
from backend.domain.deadlines.services import DeadlineService
from backend.domain.tasks.services import TaskService
from tests.world import World, build_world, login, new_task

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], clock: FixedClock) -> World:
    w = await build_world(session_maker, clock)
    from datetime import date

    async with session_maker() as session, session.begin():
        service = TaskService(session, clock, Audit(session, clock, Actor.system()))
        for n, due in enumerate(
            [date(2026, 12, 1), date(2026, 12, 5), date(2026, 12, 9), date(2026, 12, 30)]
        ):
            task = await service.create_task(
                new_task(w, f"T-L{n}", inspectors=["amr_a", "amr_c"], items=["FOOD-1"], due_on=due),
                team_id=w["team1"],
                by_user_id=w["lead1"],
            )
            if n == 3:
                task.status = TaskStatus.SUBMITTED
        overdue = await session.get(Task, w["t1"])
        assert overdue is not None
        overdue.due_on = date(2026, 11, 29)  # yesterday in Shanghai
        await DeadlineService(session, Audit(session, clock, Actor.system())).recompute(
            [overdue.id]
        )
    return w


async def test_ordered_by_due_date_and_paged(client: Client, world: World) -> None:
    headers = await login(client, "amr_a")
    first = (await client.get("/api/v1/tasks?limit=2", headers=headers)).json()
    second = (await client.get("/api/v1/tasks?limit=2&offset=2", headers=headers)).json()
    assert first["total"] == second["total"] == 5
    assert [t["code"] for t in first["items"] + second["items"]] == ["T-1", "T-L0", "T-L1", "T-L2"]
    assert first["items"][0]["overdue"] is True and first["items"][1]["overdue"] is False
    assert first["items"][0]["light"]["color"] == "red"
    assert first["items"][0]["deadlines"]["due_at"] == "2026-11-30T00:00:00+08:00"
    assert first["items"][1]["light"]["color"] == "yellow"  # due 2026-12-01, within 3 days


async def test_filters(client: Client, world: World) -> None:
    headers = await login(client, "amr_a")
    r = (await client.get("/api/v1/tasks?status=submitted", headers=headers)).json()
    assert [t["code"] for t in r["items"]] == ["T-L3"]
    r = (
        await client.get(
            "/api/v1/tasks?status=submitted&status=assigned&due_from=2026-12-05&due_to=2026-12-09",
            headers=headers,
        )
    ).json()
    assert [t["code"] for t in r["items"]] == ["T-L1", "T-L2"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "offset=-1", "status=lost", "due_from=2026-13-01", "limit=x"]
)
async def test_bad_parameters_are_400(client: Client, world: World, query: str) -> None:
    r = await client.get(f"/api/v1/tasks?{query}", headers=await login(client, "amr_a"))
    assert r.status_code == 400, query
    assert r.json()["code"] == "validation-failed"

"""Reading the trail: each reader sees only their scope; filters and paging."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from tests.world import World, build_world, login

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def test_task_trail_for_its_inspectors_and_lead_only(client: Client, world: World) -> None:
    url = f"/api/v1/tasks/{world['t1']}/audit"
    for user in ("amr_a", "lead1"):
        r = await client.get(url, headers=await login(client, user))
        assert r.status_code == 200, user
        assert [(e["action"], e["task_id"]) for e in r.json()["items"]] == [
            ("task_assigned", str(world["t1"]))
        ]
    for user in ("amr_c", "other_x", "lead2"):
        assert (await client.get(url, headers=await login(client, user))).status_code == 404, user
    assert (await client.get(url, headers=await login(client, "op"))).status_code == 403


async def test_team_trail_is_the_leads_team(
    client: Client, world: World, session_maker: Maker, clock: FixedClock
) -> None:
    # amr_c (team1) works on a team2 task: that work belongs to team2's trail, not team1's
    async with session_maker() as session, session.begin():
        from backend.domain.audit.service import Actor, Audit
        from backend.domain.tasks.services import TaskService
        from tests.world import new_task

        await TaskService(session, clock, Audit(session, clock, Actor.system())).create_task(
            new_task(
                world, "T-X2", inspectors=["other_x", "amr_c"], items=["FOOD-1"], obj="factory"
            ),
            team_id=world["team2"],
            by_user_id=world["lead2"],
        )
    await login(client, "other_x")  # a team2 member's sign-in
    await login(client, "amr_b")  # a team1 member's sign-in
    lead1 = (
        await client.get("/api/v1/team/audit?limit=500", headers=await login(client, "lead1"))
    ).json()
    tasks = {e["task_id"] for e in lead1["items"] if e["task_id"]}
    actors = {e["actor"]["user_id"] for e in lead1["items"] if e["actor"]["user_id"]}
    assert tasks == {str(world["t1"])}
    assert str(world["amr_b"]) in actors and str(world["other_x"]) not in actors
    for user in ("amr_a", "op"):
        assert (
            await client.get("/api/v1/team/audit", headers=await login(client, user))
        ).status_code == 403


async def test_operators_read_everything_with_filters(
    client: Client, world: World, clock: FixedClock
) -> None:
    await login(client, "amr_a")
    op = await login(client, "op")
    everything = (await client.get("/api/v1/audit?limit=500", headers=op)).json()
    seqs = [e["seq"] for e in everything["items"]]
    assert seqs == sorted(seqs, reverse=True) and everything["total"] == len(seqs)
    logins = (await client.get("/api/v1/audit?action=login", headers=op)).json()
    assert {e["action"] for e in logins["items"]} == {"login"} and logins["total"] == 2
    mine = (await client.get(f"/api/v1/audit?actor_id={world['amr_a']}", headers=op)).json()
    assert {e["actor"]["user_id"] for e in mine["items"]} == {str(world["amr_a"])}
    page = (await client.get("/api/v1/audit?limit=2&offset=1", headers=op)).json()
    assert [e["seq"] for e in page["items"]] == seqs[1:3]
    later = clock.now().isoformat().replace("+00:00", "Z")
    assert (await client.get(f"/api/v1/audit?until={later}", headers=op)).json()["total"] == 0
    assert (await client.get(f"/api/v1/audit?since={later}", headers=op)).json()[
        "total"
    ] == everything["total"]
    for bad in (
        "action=nonsense",
        "limit=0",
        "since=yesterday",
        f"actor_id={uuid.uuid4().hex[:5]}",
    ):
        assert (await client.get(f"/api/v1/audit?{bad}", headers=op)).status_code == 400, bad
    for user in ("amr_a", "lead1"):
        assert (
            await client.get("/api/v1/audit", headers=await login(client, user))
        ).status_code == 403


async def test_concurrent_writes_through_the_api_all_land(
    client: Client, world: World, session_maker: Maker
) -> None:
    """On SQLite the writers queue for the write lock instead of failing; on PostgreSQL the head lock orders them."""
    headers = await login(client, "amr_a")
    objects = [world["shop"], world["factory"]]
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/me/conflicts",
                json={"object_id": str(o), "reason": "并发申报测试"},
                headers=headers,
            )
            for o in objects
        )
    )
    assert [r.status_code for r in responses] == [201, 201]
    from sqlalchemy import func, select

    from backend.db.models import AuditEvent, ConflictOfInterest

    async with session_maker() as s:
        assert await s.scalar(select(func.count()).select_from(ConflictOfInterest)) == 2
        declared = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "conflict_of_interest_declared")
        )
        assert declared == 2


def test_zsjg_audit_verify_exit_codes(tmp_path: Path) -> None:
    zsjg = Path(sys.executable).parent / "zsjg"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZSJG_")}
    data = tmp_path / "demo"

    def run(*args):
        return subprocess.run(
            [str(zsjg), *args, "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    seeded = run("demo", "--no-serve")
    assert seeded.returncode == 0, seeded.stderr
    assert (data / "audit-anchors.jsonl").exists()  # the demo anchors its head after seeding
    ok = run("audit", "verify")
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    assert run("audit", "anchor").returncode == 0
    import sqlite3

    with sqlite3.connect(data / "zsjg.sqlite3") as conn:
        conn.execute("DROP TRIGGER audit_events_no_delete")
        conn.execute("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)")
    broken = run("audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN" in broken.stderr

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from tests.world import build_world, login

pytestmark = pytest.mark.anyio


async def test_inspector_sees_own_tasks(
    client: AsyncTestClient[Litestar],
    session_maker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
) -> None:
    w = await build_world(session_maker, clock)
    headers = await login(client, "amr_a")
    r = await client.get("/api/v1/tasks", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["code"] for t in body["items"]] == ["T-1"]
    r = await client.get(f"/api/v1/tasks/{w['t2']}", headers=headers)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(f"/api/v1/tasks/{w['t1']}", headers=headers)
    assert r.status_code == 200, r.text

"""The app's workers stop — draining what they hold — before the database engine is disposed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event

pytestmark = pytest.mark.anyio


async def test_workers_stop_before_the_engine_is_disposed(app: Litestar) -> None:
    ctx = app.state.ctx
    order: list[str] = []
    event.listen(ctx.engine.sync_engine, "engine_disposed", lambda _: order.append("disposed"))

    def recording(name: str, stop: Any) -> Any:
        async def wrapped() -> None:
            order.append(name)
            await stop()

        return wrapped

    ctx.push_writer.stop = recording("push writer", ctx.push_writer.stop)
    ctx.uploads.stop = recording("uploads", ctx.uploads.stop)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/healthz")).status_code == 200
    assert order[:2] == ["push writer", "uploads"]
    assert "disposed" in order and order.index("disposed") > 1

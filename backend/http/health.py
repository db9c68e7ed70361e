"""Liveness and readiness for operators and load balancers."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Response, get
from sqlalchemy import text

from .deps import Ctx


class Health(msgspec.Struct, kw_only=True):
    status: str
    database: str


@get("/healthz", operation_id="health", exclude_from_auth=True, tags=["operations"])
async def health(ctx: Ctx) -> Response[Health]:
    """Whether the server is up and its database answers."""
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return Response(Health(status="unavailable", database="unreachable"), status_code=503)
    return Response(Health(status="ok", database=ctx.engine.dialect.name))


class Pong(msgspec.Struct, kw_only=True):
    pong: bool
    at: datetime


@get("/api/v1/ping", operation_id="ping", tags=["operations"])
async def ping(ctx: Ctx) -> Pong:
    """A signed-in round trip with no database work: the baseline of the benchmarks."""
    return Pong(pong=True, at=ctx.clock.now())

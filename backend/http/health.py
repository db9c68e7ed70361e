"""Liveness and readiness for operators and load balancers."""

from __future__ import annotations

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

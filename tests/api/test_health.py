from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

pytestmark = pytest.mark.anyio


async def test_health_needs_no_sign_in(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


async def test_unknown_route_is_a_problem(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/api/v1/nothing-here", headers={"X-Request-ID": "abc-123"})
    assert r.status_code in (401, 404)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["request_id"].startswith("abc-123.")  # the caller's id, then the server's own
    assert r.headers["x-request-id"] == r.json()["request_id"]
    other = await client.get("/api/v1/nothing-here", headers={"X-Request-ID": "abc-123"})
    assert other.json()["request_id"] != r.json()["request_id"]
    odd = await client.get("/api/v1/nothing-here", headers={"X-Request-ID": "bad id with spaces"})
    # the server's own id alone ("bad" is hex, so a substring test failed by chance)
    assert re.fullmatch(r"[0-9a-f]{16}", odd.json()["request_id"]), odd.json()["request_id"]


async def test_schema_is_public_and_lists_operation_ids(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    ops = {
        op["operationId"]
        for path in schema["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert {
        "login",
        "getMe",
        "listMyTasks",
        "getTask",
        "listTeamTasks",
        "issueTask",
        "listCodeTables",
    } <= ops

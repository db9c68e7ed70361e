"""The stand-in's controls: behind the control token when one is set (every /control route,
the key rotation too), absent when the controls are off, and an honest record of what arrived."""

from __future__ import annotations

import pytest

from .api_world import JPEG, World, bearer, record_body, running, sha256_hex

pytestmark = pytest.mark.anyio
TIME_LIMIT_SECONDS = 20
TOKEN = "control-token-0123456789"
CONTROLS = [
    ("POST", "/control/keys/rotate", None),
    ("GET", "/control/faults", None),
    ("PUT", "/control/faults", {"unauthorized": 1}),
    ("DELETE", "/control/faults", None),
    ("GET", "/control/received", None),
    ("PUT", "/control/tasks/t-1", {}),
    ("DELETE", "/control/tasks/t-1", None),
]


async def test_every_control_needs_the_control_token_when_one_is_set() -> None:
    async with running(control_token=TOKEN) as world:
        jwks = (await world.http.get("/oidc/jwks")).json()
        for headers in [{}, bearer("wrong"), bearer(TOKEN + "x"), {"Authorization": TOKEN}]:
            for method, path, body in CONTROLS:
                r = await world.http.request(method, path, json=body, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.json()["error"] == "invalid_token"
        assert (await world.http.get("/oidc/jwks")).json() == jwks  # no rotation happened
        assert (await world.http.get("/control/faults", headers=bearer(TOKEN))).status_code == 200
        r = await world.http.post("/control/keys/rotate", headers=bearer(TOKEN))
        assert r.status_code == 200
        assert (await world.http.get("/oidc/jwks")).json() != jwks


async def test_without_a_control_token_the_controls_are_open(world: World) -> None:
    assert (await world.http.get("/control/faults")).status_code == 200


async def test_the_controls_can_be_switched_off() -> None:
    async with running(controls=False) as world:
        for method, path, body in CONTROLS:
            r = await world.http.request(method, path, json=body)
            assert r.status_code in {404, 405}, (method, path)
        assert (await world.http.get("/api/tasks/feed")).status_code == 401  # the API stays


async def test_received_lists_every_accepted_message_and_every_attempt(world: World) -> None:
    assert (await world.send_photo(key="p")).status_code == 201
    assert (await world.send_photo(key="p")).status_code == 201  # a replay
    assert (await world.send_record(record_body(photos=()), "nope")).status_code == 201
    body = record_body(version=2)
    assert (await world.send_record(body, "r")).status_code == 201
    referral = {"task_ref": "task-1", "record_key": body["record_key"], "referral": {"a": 1}}
    assert (await world.send_json("/api/results/referrals", referral, "f")).status_code == 201
    received = await world.received()
    assert [p["idempotency_key"] for p in received["photos"]] == ["p"]
    assert [(r["idempotency_key"], r["version"]) for r in received["records"]] == [
        ("nope", 1),
        ("r", 2),
    ]
    assert received["records"][1]["photos"] == [sha256_hex(JPEG)]
    assert received["records"][1]["task_ref"] == "task-1"
    (stored,) = received["referrals"]
    assert stored == {
        "idempotency_key": "f",
        "task_ref": "task-1",
        "record_key": "record:task-1:v2",
        "referral": {"a": 1},
        "received_at": "2026-11-30T02:00:00Z",
    }
    assert received["attempts"] == {"p": 2, "nope": 1, "r": 1, "f": 1}

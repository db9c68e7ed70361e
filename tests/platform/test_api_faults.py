"""Faults the platform shows on its API when told to (PUT /control/faults): an outage on its own
clock, throttling with Retry-After, refused tokens, a seeded error rate, a slow answer, a
permanently refused record, and a lost answer after storing — each storing nothing it should
not, and a retry with the same key afterwards getting the stored answer."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest

from .api_world import NOW, World, bearer, record_body, running

pytestmark = pytest.mark.anyio
TIME_LIMIT_SECONDS = 20
FEED = "/api/tasks/feed"


async def feed_status(world: World) -> int:
    r = await world.http.get(FEED, headers=bearer(await world.client_token()))
    return r.status_code


async def test_an_outage_answers_503_until_it_ends_on_the_platform_clock(world: World) -> None:
    await world.client_token()
    until = NOW + timedelta(minutes=5, seconds=0.5)
    shown = await world.set_faults(outage_until=until.isoformat())
    assert shown["outage_until"] == "2026-11-30T02:05:00.500000Z"
    r = await world.send_photo(key="photo-1")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "301"
    assert r.json()["error"] == "temporarily_unavailable"
    world.clock.advance(timedelta(minutes=5))
    r = await world.http.get(FEED, headers=bearer(await world.client_token()))
    assert (r.status_code, r.headers["retry-after"]) == (503, "1")
    world.clock.advance(timedelta(seconds=1))
    world.renew_tokens()
    assert (await world.send_photo(key="photo-1")).status_code == 201
    received = await world.received()
    assert len(received["photos"]) == 1
    assert received["attempts"] == {"photo-1": 2}


async def test_throttling_answers_429_with_retry_after_for_the_next_n(world: World) -> None:
    await world.client_token()
    await world.set_faults(throttle={"count": 2, "retry_after": 7})
    for _ in range(2):
        r = await world.send_photo(key="photo-1")
        assert (r.status_code, r.headers["retry-after"]) == (429, "7")
        assert r.json()["error"] == "rate_limited"
    shown = (await world.http.get("/control/faults")).json()
    assert shown["throttle"] == {"count": 0, "retry_after": 7}
    assert (await world.send_photo(key="photo-1")).status_code == 201
    assert (await world.received())["attempts"] == {"photo-1": 3}


async def test_the_next_n_requests_are_told_their_token_is_not_valid(world: World) -> None:
    token = await world.client_token()
    await world.set_faults(unauthorized=2)
    for _ in range(2):
        r = await world.http.get(FEED, headers=bearer(token))
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert r.json()["error"] == "invalid_token"
    assert (await world.http.get(FEED, headers=bearer(token))).status_code == 200


async def test_the_error_rate_is_drawn_from_the_seed() -> None:
    rate, seed = 0.3, 1234
    draws = random.Random(seed)
    expected = [500 if draws.random() < rate else 200 for _ in range(200)]
    async with running(seed=seed) as world:
        token = bearer(await world.client_token())
        for attempt in range(2):  # each PUT reseeds: the same fault set, the same sequence
            await world.set_faults(error_rate=rate)
            statuses = [(await world.http.get(FEED, headers=token)).status_code for _ in range(200)]
            assert statuses == expected, attempt
    assert 40 < expected.count(500) < 80


async def test_the_error_rate_comes_before_storing(world: World) -> None:
    await world.person_token()
    await world.set_faults(error_rate=1)
    r = await world.send_photo(key="photo-1")
    assert (r.status_code, r.json()["error"]) == (500, "server_error")
    assert (await world.received())["photos"] == []
    await world.http.delete("/control/faults")
    assert (await world.send_photo(key="photo-1")).status_code == 201


async def test_faults_are_checked_outage_first_then_throttle_then_tokens(world: World) -> None:
    await world.client_token()
    await world.set_faults(
        outage_until=(NOW + timedelta(seconds=10)).isoformat(),
        throttle={"count": 1, "retry_after": 3},
        unauthorized=1,
        error_rate=1,
    )
    assert await feed_status(world) == 503
    world.clock.advance(timedelta(seconds=10))
    assert [await feed_status(world) for _ in range(4)] == [429, 401, 500, 500]


async def test_a_delay_holds_every_answer_back(world: World) -> None:
    await world.client_token()
    await world.set_faults(delay_ms=300)
    started = time.monotonic()
    assert await feed_status(world) == 200
    assert time.monotonic() - started >= 0.3
    await world.set_faults(delay_ms=300, unauthorized=1)
    started = time.monotonic()
    assert await feed_status(world) == 401
    assert time.monotonic() - started >= 0.3
    await world.http.delete("/control/faults")
    started = time.monotonic()
    assert await feed_status(world) == 200
    assert time.monotonic() - started < 0.3


async def test_a_refused_record_is_refused_every_time(world: World) -> None:
    await world.set_faults(refuse_records=["record:task-1:v1"])
    assert (await world.send_photo()).status_code == 201
    for _ in range(3):
        r = await world.send_record()
        assert (r.status_code, r.json()["error"]) == (422, "refused")
    assert (await world.send_record(record_body(version=2))).status_code == 201
    received = await world.received()
    assert [r["record_key"] for r in received["records"]] == ["record:task-1:v2"]
    assert received["attempts"]["record:task-1:v1"] == 3


async def test_a_lost_answer_is_stored_and_the_retry_gets_it_replayed(world: World) -> None:
    await world.set_faults(fail_after_store=2)
    lost_photo = await world.send_photo(key="photo-1")
    lost_record = await world.send_record(key="rec-1")  # its photo was stored, answer or not
    assert (lost_photo.status_code, lost_record.status_code) == (500, 500)
    assert (await world.http.get("/control/faults")).json()["fail_after_store"] == 0
    photo = await world.send_photo(key="photo-1")
    record = await world.send_record(key="rec-1")
    for r in (photo, record):
        assert r.status_code == 201, r.text
        assert r.headers["idempotent-replayed"] == "true"
    received = await world.received()
    assert len(received["photos"]) == len(received["records"]) == 1
    assert received["attempts"] == {"photo-1": 2, "rec-1": 2}


async def test_faults_touch_neither_the_controls_nor_the_token_endpoint(world: World) -> None:
    await world.set_faults(error_rate=1, unauthorized=5)
    assert await world.client_token()
    assert (await world.http.get("/control/received")).status_code == 200
    assert (await world.http.get("/oidc/jwks")).status_code == 200


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 1.5},
        {"delay_ms": 60_001},
        {"unauthorized": -1},
        {"throttle": {"count": 1}},
        {"outage_until": "2026-11-30T02:00:00"},  # no time zone
        {"refuse_records": "record:x:v1"},
        {"fail_after_store": "twice"},
        {"chaos": True},
    ],
)
async def test_a_bad_fault_set_is_a_400_and_changes_nothing(
    world: World, faults: dict[str, object]
) -> None:
    await world.set_faults(unauthorized=1)
    r = await world.http.put("/control/faults", json=faults)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request"), r.text
    assert (await world.http.get("/control/faults")).json()["unauthorized"] == 1
    cleared = await world.http.delete("/control/faults")
    assert cleared.status_code == 200 and cleared.json()["unauthorized"] == 0

"""The results intake: photos (checked against Repr-Digest), records (only after their photos),
referrals (only after their record), each idempotent by its Idempotency-Key — a retry gets the
stored answer, replayed, and stores nothing; a reused key with another request is refused; two
identical requests at once store once; a bad request is 400 and stores nothing. Then the
publication status of a record, on the platform's clock."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from .api_world import JPEG, World, bearer, record_body, repr_digest, running, sha256_hex

pytestmark = pytest.mark.anyio
TIME_LIMIT_SECONDS = 20
PNG = b"\x89PNG\r\n\x1a\n" + b"png" * 50


async def test_a_photo_is_received_once_its_digest_matches(world: World) -> None:
    r = await world.send_photo(JPEG, "photo-1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sha256"] == sha256_hex(JPEG) and body["idempotency_key"] == "photo-1"
    assert len(body["receipt"]) == 36
    assert "idempotent-replayed" not in r.headers
    (photo,) = (await world.received())["photos"]
    assert photo == {
        "idempotency_key": "photo-1",
        "sha256": sha256_hex(JPEG),
        "task_ref": "task-1",
        "size": len(JPEG),
        "received_at": "2026-11-30T02:00:00Z",
    }


async def test_a_photo_whose_body_is_not_its_digest_is_refused(world: World) -> None:
    r = await world.send_photo(JPEG, "photo-1", Repr_Digest=repr_digest(PNG))
    assert (r.status_code, r.json()["error"]) == (422, "digest_mismatch")
    assert (await world.received())["photos"] == []
    r = await world.send_photo(JPEG, "photo-1")  # the key was not used up by the refusal
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({"Idempotency_Key": ""}, 400, "invalid_request"),
        ({"Idempotency_Key": "k" * 201}, 400, "invalid_request"),
        ({"Repr_Digest": ""}, 400, "invalid_request"),
        ({"Repr_Digest": "sha-512=:AAAA:"}, 400, "invalid_request"),
        ({"Repr_Digest": "sha-256=:not base64!:"}, 400, "invalid_request"),
        ({"Repr_Digest": "sha-256=AAAA"}, 400, "invalid_request"),
        ({"X_Task_Ref": ""}, 400, "invalid_request"),
        ({"Content_Type": "application/pdf"}, 415, "unsupported_media_type"),
    ],
)
async def test_a_photo_without_the_right_headers_is_refused(
    world: World, headers: dict[str, str], status: int, error: str
) -> None:
    r = await world.send_photo(JPEG, **headers)
    assert (r.status_code, r.json()["error"]) == (status, error), r.text
    assert r.json()["error_description"]
    assert (await world.received())["photos"] == []


async def test_a_digest_may_come_with_others_and_png_and_webp_are_photos_too(
    world: World,
) -> None:
    digest = f"sha-512=:{'A' * 88}:, {repr_digest(PNG)}"
    r = await world.send_photo(PNG, "p", Content_Type="image/png", Repr_Digest=digest)
    assert r.status_code == 201, r.text
    r = await world.send_photo(b"RIFFwebp", "w", Content_Type="image/webp")
    assert r.status_code == 201, r.text


async def test_a_photo_over_30_mb_is_refused(world: World) -> None:
    big = b"\0" * (30 * 1024 * 1024 + 1)
    r = await world.send_photo(big, "big")
    assert (r.status_code, r.json()["error"]) == (413, "payload_too_large")
    assert (await world.received())["photos"] == []


async def test_a_record_before_its_photos_is_refused_then_received_after_them(
    world: World,
) -> None:
    body = record_body(photos=(JPEG, PNG))
    r = await world.send_record(body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "photos_missing"
    assert r.json()["missing"] == sorted([sha256_hex(JPEG), sha256_hex(PNG)])
    assert (await world.send_photo(JPEG)).status_code == 201
    r = await world.send_record(body)
    assert (r.status_code, r.json()["missing"]) == (422, [sha256_hex(PNG)])
    assert (await world.send_photo(PNG, Content_Type="image/png")).status_code == 201
    r = await world.send_record(body)
    assert r.status_code == 201, r.text
    assert r.json()["record_key"] == "record:task-1:v1" and r.json()["status"] == "received"
    (record,) = (await world.received())["records"]
    assert record["record"] == body["record"] and record["version"] == 1
    assert record["idempotency_key"] == "record:task-1:v1"


async def test_a_referral_needs_its_record(world: World) -> None:
    referral = {"task_ref": "task-1", "record_key": "record:task-1:v1", "referral": {"to": "x"}}
    r = await world.send_json("/api/results/referrals", referral, "referral-1")
    assert (r.status_code, r.json()["error"]) == (422, "record_missing")
    assert (await world.send_photo()).status_code == 201
    assert (await world.send_record()).status_code == 201
    r = await world.send_json("/api/results/referrals", referral, "referral-1")
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"receipt"}
    (stored,) = (await world.received())["referrals"]
    assert stored["referral"] == {"to": "x"} and stored["idempotency_key"] == "referral-1"


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "object"),
        (json.dumps({**record_body(), "version": 0}).encode(), "version"),
        (json.dumps({**record_body(), "version": "1"}).encode(), "version"),
        (json.dumps({**record_body(), "version": True}).encode(), "version"),
        (json.dumps({**record_body(), "record": []}).encode(), "record"),
        (json.dumps({**record_body(), "photos": ["ABC"]}).encode(), "photos"),
        (json.dumps({**record_body(), "task_ref": ""}).encode(), "task_ref"),
        (json.dumps({**record_body(), "extra": 1}).encode(), "extra"),
        (json.dumps({k: v for k, v in record_body().items() if k != "record"}).encode(), "record"),
    ],
)
async def test_a_malformed_record_is_a_clear_400(world: World, body: bytes, hint: str) -> None:
    r = await world.send_json("/api/results/records", body, "r-1")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request"), r.text
    assert hint in r.json()["error_description"]
    assert (await world.received())["records"] == []


async def test_a_retry_with_the_same_key_gets_the_stored_answer_and_stores_nothing(
    world: World,
) -> None:
    first = await world.send_photo(JPEG, "photo-1")
    again = await world.send_photo(JPEG, "photo-1")
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    body = record_body()
    first = await world.send_record(body, "rec-1")
    reordered = dict(reversed(list(body.items())))  # the same JSON, keys in another order
    again = await world.send_record(reordered, "rec-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    received = await world.received()
    assert len(received["photos"]) == len(received["records"]) == 1
    assert received["attempts"] == {"photo-1": 2, "rec-1": 2}


async def test_a_key_reused_for_another_request_is_refused(world: World) -> None:
    assert (await world.send_photo(JPEG, "photo-1")).status_code == 201
    r = await world.send_photo(PNG, "photo-1", Content_Type="image/png")
    assert (r.status_code, r.json()["error"]) == (422, "idempotency_key_reused")
    r = await world.send_photo(JPEG, "photo-1", X_Task_Ref="task-2")
    assert (r.status_code, r.json()["error"]) == (422, "idempotency_key_reused")
    assert (await world.send_record(record_body(), "k")).status_code == 201
    r = await world.send_record(record_body(version=2), "k")
    assert (r.status_code, r.json()["error"]) == (422, "idempotency_key_reused")
    r = await world.send_json(
        "/api/results/referrals",
        {"task_ref": "task-1", "record_key": "record:task-1:v1", "referral": {}},
        "k",
    )
    assert (r.status_code, r.json()["error"]) == (422, "idempotency_key_reused")
    received = await world.received()
    assert [p["sha256"] for p in received["photos"]] == [sha256_hex(JPEG)]
    assert [r["version"] for r in received["records"]] == [1]
    assert received["referrals"] == []


async def test_identical_requests_at_once_store_once(world: World) -> None:
    await world.person_token()
    photos = await asyncio.gather(*(world.send_photo(JPEG, "photo-1") for _ in range(8)))
    assert {r.status_code for r in photos} == {201}
    assert len({r.json()["receipt"] for r in photos}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in photos) == 7
    records = await asyncio.gather(*(world.send_record(record_body(), "rec-1") for _ in range(8)))
    assert len({(r.status_code, r.json()["receipt"]) for r in records}) == 1
    received = await world.received()
    assert len(received["photos"]) == len(received["records"]) == 1
    assert received["attempts"] == {"photo-1": 8, "rec-1": 8}


async def test_a_record_is_published_at_once_by_default(world: World) -> None:
    assert (await world.send_photo()).status_code == 201
    assert (await world.send_record()).status_code == 201
    r = await world.http.get(
        "/api/results/records/record:task-1:v1/publication",
        headers=bearer(await world.client_token()),
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "record_key": "record:task-1:v1",
        "status": "published",
        "received_at": "2026-11-30T02:00:00Z",
        "published_at": "2026-11-30T02:00:00Z",
    }


async def test_a_record_is_published_after_the_publish_delay() -> None:
    async with running(publish_delay=timedelta(hours=2)) as world:
        assert (await world.send_photo()).status_code == 201
        assert (await world.send_record()).status_code == 201
        path = "/api/results/records/record%3Atask-1%3Av1/publication"  # escaped: the same key
        r = await world.http.get(path, headers=bearer(await world.person_token()))
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["published_at"]) == ("received", None)
        world.clock.advance(timedelta(hours=1, minutes=59, seconds=59))
        world.renew_tokens()
        token = bearer(await world.person_token())
        assert (await world.http.get(path, headers=token)).json()["status"] == "received"
        world.clock.advance(timedelta(seconds=1))
        body = (await world.http.get(path, headers=token)).json()
        assert body["status"] == "published"
        assert body["published_at"] == "2026-11-30T04:00:00Z"

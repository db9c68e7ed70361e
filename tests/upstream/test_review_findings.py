"""Adversarial review of the forwarding worker: answers from the platform that a real platform (or
a proxy in front of it) can give, and what they do to the worker's bookkeeping.

Each test is bounded in rounds (and the module in wall time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import anyio
import httpx
import pytest

from backend.db.models import OutboxState
from backend.domain.upstream.platform_client import PlatformClient
from backend.domain.upstream.worker import Forwarder
from tests.upstream.conftest import Forwarding
from tests.upstream.test_forwarding import _second_submitted_task, drain

pytestmark = pytest.mark.anyio
LIMIT = 60  # seconds of wall time per test body (anyio.fail_after)

Rule = Callable[[httpx.Request], httpx.Response | None]


class Rewriting(httpx.AsyncBaseTransport):
    """The platform, except where ``rule`` answers instead (a proxy, a misbehaving platform)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, rule: Rule) -> None:
        self.inner, self.rule = inner, rule

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        answer = self.rule(request)
        if answer is not None:
            return answer
        return await self.inner.handle_async_request(request)


def worker_with(f: Forwarding, rule: Rule) -> Forwarder:
    original = f.worker.client
    client = PlatformClient(
        base_url=original.base_url,
        token_url=original._token_url,
        client_id=original._client_id,
        client_secret=original._client_secret,
        signer=original._signer,
        clock=f.clock,
        transport=Rewriting(original._transport, rule),  # type: ignore[arg-type]
    )
    return Forwarder(
        f.db, client, f.ctx.uploads.store, f.clock, f.worker.policy, postgres=f.worker.postgres
    )


# --- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    [
        b"999999999999",  # 31 700 years: datetime overflows in _settle
        b"\xb2",  # latin-1 superscript two: str.isdigit() is True, float() raises
        # an hour from now in asctime, an HTTP-date every recipient MUST accept (RFC 9110
        # 5.6.7): parsedate_to_datetime gives a naive datetime, and naive - aware raises
        b"Mon Nov 30 03:00:00 2026",
    ],
    ids=["huge", "unicode-digit", "asctime-http-date"],
)
async def test_one_odd_retry_after_does_not_lose_the_rounds_other_outcomes(
    forwarding: Forwarding, retry_after: bytes
) -> None:
    """A single 503 with an odd Retry-After from the platform (or a proxy) must cost that message
    a wait, not the bookkeeping of every other message delivered in the same round."""
    f = forwarding
    other = await _second_submitted_task(f)  # one record, no files
    await f.approve()
    await f.approve(other)
    poisoned = f"record:{f.task_id}:v1:file:"

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("idempotency-key", "").startswith(poisoned):
            return httpx.Response(503, headers=[(b"retry-after", retry_after)])
        return None

    worker = worker_with(f, rule)
    try:
        with anyio.fail_after(LIMIT):
            await worker.run_once()  # today: OverflowError / ValueError out of the round
    finally:
        by_key = {m.idempotency_key: m for m in await f.outbox()}
        other_record = by_key[f"record:{other}:v1"]
        # the other task's record reached the platform in this round ...
        assert f"record:{other}:v1" in (await f.received())["attempts"]
        # ... and the backend must know it
        assert other_record.state is OutboxState.SENT, (
            "the platform stored the other task's record, but the round's bookkeeping was lost"
        )
        await worker.client.close()


@pytest.mark.parametrize("retry_after", ["0", "Thu, 01 Jan 2026 00:00:00 GMT"])
async def test_a_zero_or_past_retry_after_does_not_make_the_worker_spin(
    forwarding: Forwarding, retry_after: str
) -> None:
    """A platform that keeps answering 429 with ``Retry-After: 0`` (or a date in the past): the
    wait is not counted and has no floor, so at one instant the same message is claimed and sent
    again round after round — the server's loop does not sleep while a round claimed anything —
    and it never becomes a dead letter."""
    f = forwarding
    other = await _second_submitted_task(f)
    await f.approve(other)

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/api/results/records":
            return httpx.Response(429, headers={"Retry-After": retry_after})
        return None

    worker = worker_with(f, rule)
    try:
        with anyio.fail_after(LIMIT):
            await drain(f, worker)  # fails: "the outbox did not drain in 20 rounds"
    finally:
        [message] = await f.outbox()
        assert message.deliveries <= 3, f"{message.deliveries} deliveries at one instant"
        await worker.client.close()


# --- publication ------------------------------------------------------------------------------


@pytest.mark.parametrize("published_at", ["2026-11-30 late", "2026-11-30T02:00:00"])
async def test_one_odd_publication_answer_does_not_stop_every_task_being_published(
    forwarding: Forwarding, published_at: str
) -> None:
    """Two forwarded tasks, both published by the platform; one answer's ``published_at`` is
    malformed (or has no offset). The other task must still be marked published."""
    f = forwarding
    other = await _second_submitted_task(f)
    await f.approve()
    await f.approve(other)
    await drain(f)
    assert await f.status() == "forwarded" and await f.status(other) == "forwarded"
    odd = f"/api/results/records/record:{f.task_id}:v1/publication"

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path == odd:
            return httpx.Response(
                200,
                json={
                    "record_key": f"record:{f.task_id}:v1",
                    "status": "published",
                    "published_at": published_at,
                },
            )
        return None

    worker = worker_with(f, rule)
    try:
        for _ in range(3):  # the server's loop asks every minute; it raises every time today
            try:
                with anyio.fail_after(LIMIT):
                    await worker.check_publication()
            except Exception:  # noqa: S112 - what the loop does: log and go on
                continue
            f.clock.advance(timedelta(minutes=1))
        assert await f.status(other) == "published", "one odd answer blocks every publication"
    finally:
        await worker.client.close()


async def test_a_legal_asctime_retry_after_stalls_the_other_tasks_of_its_batch_for_good(
    forwarding: Forwarding,
) -> None:
    """The server's loop logs a failed round and goes on; the leases run out and the same batch
    is claimed, delivered and lost again, every lease, for as long as the platform keeps
    answering that one photo with an asctime Retry-After: the other task never leaves
    ``approved`` although the platform has had its record since the first round."""
    f = forwarding
    other = await _second_submitted_task(f)
    await f.approve()
    await f.approve(other)
    poisoned = f"record:{f.task_id}:v1:file:"

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("idempotency-key", "").startswith(poisoned):
            return httpx.Response(503, headers={"Retry-After": "Mon Nov 30 03:00:00 2026"})
        return None

    worker = worker_with(f, rule)
    try:
        with anyio.fail_after(LIMIT):
            for _ in range(5):  # what Forwarder._run does, a lease apart
                try:
                    await worker.run_once()
                except Exception:  # _run logs it and goes on
                    f.clock.advance(worker.policy.lease)
                    continue
                f.clock.advance(timedelta(seconds=1))
        deliveries = (await f.received())["attempts"][f"record:{other}:v1"]
        assert await f.status(other) == "forwarded", (
            f"the other task's record was delivered {deliveries} times and is still not forwarded"
        )
    finally:
        await worker.client.close()


async def test_a_token_endpoint_refusal_does_not_dead_letter_the_whole_backlog(
    forwarding: Forwarding,
) -> None:
    """The token exchange is refused with 400 ``invalid_grant`` for a while — the backend's key
    not yet (re-)registered at the platform, or its clock a minute ahead of the platform's. That
    says nothing about any message, yet every message claimed becomes a dead letter on its first
    attempt, and an operator has to retry each one by hand once the platform is fixed."""
    f = forwarding
    other = await _second_submitted_task(f)
    await f.approve()
    await f.approve(other)
    refusing = [True]

    def rule(request: httpx.Request) -> httpx.Response | None:
        if refusing[0] and request.url.path == "/oidc/token":
            return httpx.Response(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "the subject token was issued in the future",
                },
            )
        return None

    worker = worker_with(f, rule)
    try:
        with anyio.fail_after(LIMIT):
            await worker.run_once()
            refusing[0] = False  # the platform registers the key / the clocks agree again
            for _ in range(10):
                f.clock.advance(worker.policy.backoff_cap)
                await drain(f, worker)
        dead = [m.idempotency_key for m in await f.outbox() if m.state is OutboxState.DEAD]
        assert dead == [], f"{len(dead)} dead letters, each waiting for an operator: {dead}"
    finally:
        await worker.client.close()


async def test_publication_polling_does_not_hold_up_forwarding(forwarding: Forwarding) -> None:
    """The server's loop asks about every forwarded task's publication, one request after the
    other, between two delivery rounds: while the platform is slow to answer those (or there
    are many tasks awaiting publication — it can take weeks), a newly approved record waits
    behind the whole sweep although the worker was woken for it."""
    f = forwarding
    first = await _second_submitted_task(f)
    await f.approve(first)
    await drain(f)
    assert await f.status(first) == "forwarded"
    slow = 1.5  # one forwarded task; the wait grows with their number (sequential requests)

    class Slow(Rewriting):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET" and request.url.path.endswith("/publication"):
                await anyio.sleep(slow)  # a slow answer: the record is still being reviewed
                return httpx.Response(200, json={"status": "received", "published_at": None})
            return await super().handle_async_request(request)

    worker = worker_with(f, lambda _: None)
    worker.client._transport = Slow(f.worker.client._transport, lambda _: None)  # type: ignore[arg-type]
    try:
        with anyio.fail_after(LIMIT):
            await worker.start()  # its first round finds nothing, then sweeps publication
            await anyio.sleep(0.2)
            await f.approve()  # the lead approves another record meanwhile
            worker.wake()
            started = anyio.current_time()
            while await f.status() != "forwarded":  # noqa: ASYNC110 - polling the database
                await anyio.sleep(0.05)
            lag = anyio.current_time() - started
        assert lag < 1.0, f"the approved record waited {lag:.1f} s behind publication polling"
    finally:
        await worker.stop()

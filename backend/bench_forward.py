"""``zsjg bench forward``: the outbox's drain rate to the loopback platform, and the delivery lag.

The reference platform runs in a process of its own on 127.0.0.1 (``zsjg platform``, the backend's
key registered for token exchange). The backend's side runs here on an embedded SQLite database
with the demo data and durable commits:

* **baseline** — the same records POSTed straight to the platform's intake by the same HTTP
  client with the same concurrency and a bearer token: what the platform and the loopback
  allow at the most, with no outbox at all;
* **drain** — a backlog of approved records in the outbox, delivered by the forwarding worker
  (claim with a lease, deliver, record each outcome): messages per second, and its ratio to
  the baseline;
* **lag** — one record at a time written to the outbox (and the worker woken, as an approval
  does) while the worker runs: the time until it is marked sent, median and 95th percentile.

The two throughput runs take turns, so the machine's slow spells weigh on both alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from backend.bench import wait_until_up
from backend.clock import SystemClock

SECRET = "bench-forward-secret"  # noqa: S105 - the benchmark's own throwaway client secret


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _platform(root: Path, jwks: dict[str, Any]) -> Iterator[str]:
    port = _free_port()
    (root / "jwks.json").write_text(json.dumps(jwks))
    log = (root / "platform.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [
            str(Path(sys.executable).parent / "zsjg"),
            "platform",
            "--port",
            str(port),
            "--client-secret",
            SECRET,
            "--backend-jwks",
            str(root / "jwks.json"),
            "--no-access-log",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("ZSJG_")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(
            proc, f"{base}/.well-known/openid-configuration", root / "platform.log", seconds=60
        )
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _record(task_id: uuid.UUID, key: str) -> dict[str, Any]:
    return {
        "task_ref": str(task_id),
        "record_key": key,
        "version": 1,
        "record": {"task_code": "BENCH", "items": [{"content": "检查内容", "conforms": True}]},
        "photos": [],
    }


async def _baseline(
    base: str, token: str, task_id: uuid.UUID, count: int, concurrency: int
) -> float:
    gate = asyncio.Semaphore(concurrency)
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32), timeout=30
    ) as http:

        async def one(i: int) -> None:
            key = f"baseline:{run}:{i}"
            async with gate:
                r = await http.post(
                    f"{base}/api/results/records",
                    json=_record(task_id, key),
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                )
                r.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return float(count / (time.perf_counter() - start))


async def _run(root: Path, messages: int, rounds: int, lag_samples: int) -> dict[str, Any]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request skews both runs
    from sqlalchemy import select

    from backend.app import create_app
    from backend.db.models import OutboxKind, OutboxMessage, OutboxState, Task, TaskAssignment, User
    from backend.demo.seed import seed_if_empty
    from backend.domain.auth.tokens import TokenSigner
    from backend.domain.upstream.worker import Forwarder
    from backend.settings import Settings

    base_settings = Settings(data_dir=root / "data", generate_signing_key=True)
    await seed_if_empty(base_settings, SystemClock())
    signer = TokenSigner.from_file(
        base_settings.effective_signing_key_file,
        generate=True,
        issuer=base_settings.token_issuer,
        audience=base_settings.token_audience,
    )
    with _platform(root, {"keys": [signer.public_jwk()]}) as platform:
        settings = Settings(
            data_dir=root / "data",
            generate_signing_key=True,
            sso_issuer=platform,
            sso_client_secret=SECRET,
            forwarding_worker=False,
            audit_anchor_interval=timedelta(0),
        )
        app = create_app(settings)
        ctx = app.state.ctx
        ctx.load_signing_key()
        worker: Forwarder | None = ctx.forwarder
        assert worker is not None
        async with ctx.session_maker() as session:
            task_id, subject = (
                await session.execute(
                    select(Task.id, User.platform_subject)
                    .join(TaskAssignment, TaskAssignment.task_id == Task.id)
                    .join(User, User.id == TaskAssignment.user_id)
                    .where(TaskAssignment.is_primary.is_(True))
                    .limit(1)
                )
            ).one()
        token = await worker.client.token_for(subject)

        async def enqueue(count: int, tag: str) -> None:
            now = SystemClock().now()
            async with ctx.session_maker() as session, session.begin():
                session.add_all(
                    OutboxMessage(
                        id=uuid.uuid4(),
                        task_id=task_id,
                        stage=1,
                        kind=OutboxKind.RECORD,
                        idempotency_key=(key := f"bench:{tag}:{i}"),
                        subject=subject,
                        record_version=1,
                        payload=_record(task_id, key),
                        attempts=0,
                        deliveries=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    for i in range(count)
                )

        async def drain() -> float:
            start = time.perf_counter()
            sent = 0
            while True:
                report = await worker.run_once()
                sent += report.sent
                if not report.claimed:
                    break
            return sent / (time.perf_counter() - start)

        drains, baselines = [], []
        for r in range(rounds):
            await enqueue(messages, f"drain{r}")
            drains.append(await drain())
            baselines.append(
                await _baseline(platform, token, task_id, messages, worker.policy.concurrency)
            )

        # lag: one message at a time while the worker loop runs
        lags = []
        await worker.start()
        try:
            for i in range(lag_samples):
                written = time.perf_counter()
                await enqueue(1, f"lag{i}")
                worker.wake()
                key = f"bench:lag{i}:0"
                while True:
                    async with ctx.session_maker() as session:
                        state = await session.scalar(
                            select(OutboxMessage.state).where(OutboxMessage.idempotency_key == key)
                        )
                    if state is OutboxState.SENT:
                        break
                    if time.perf_counter() - written > 30:
                        raise RuntimeError("a message was not delivered within 30 s")
                    await asyncio.sleep(0.002)
                lags.append((time.perf_counter() - written) * 1000)
        finally:
            await worker.stop()
            await ctx.engine.dispose()

    drain_rate = statistics.median(drains)
    baseline = statistics.median(baselines)
    lags.sort()
    return {
        "messages_per_round": messages,
        "rounds": rounds,
        "baseline_direct_posts_per_s": round(baseline, 1),
        "drain_messages_per_s": round(drain_rate, 1),
        "drain_ratio_to_baseline": round(drain_rate / baseline, 3),
        "drain_target_messages_per_s": 500,
        "drain_target_met": drain_rate >= 500,
        "lag_ms_p50": round(statistics.median(lags), 1),
        "lag_ms_p95": round(lags[int(0.95 * (len(lags) - 1))], 1),
        "lag_samples": len(lags),
        "database": "SQLite (WAL, synchronous=FULL)",
    }


def run_bench(messages: int, rounds: int, lag_samples: int) -> dict[str, Any]:
    from backend.db.migrate import upgrade
    from backend.settings import Settings

    with tempfile.TemporaryDirectory(prefix="zsjg-bench-forward-") as tmp:
        root = Path(tmp)
        upgrade(Settings(data_dir=root / "data").effective_database_url)  # outside the loop
        return asyncio.run(_run(root, messages, rounds, lag_samples))

"""``zsjg bench sync``: the sync endpoints' throughput against a plain signed-in ping, in one run.

It builds a data directory (the demo data and an inspector with 500 tasks), starts the
server on 127.0.0.1 with the embedded SQLite database (WAL, synchronous=FULL), drives it with
a few concurrent clients for a fixed time per measurement, and prints each figure with its
ratio to the ping measured in the same run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

TASKS = 500
BATCH = 50
PREPARED_PUSHES_PER_S = 60
"""Push bodies made ahead per client and second measured (4 clients: 240 pushes/s)."""
ROUNDS = 5
PASSWORD = "zsjg-demo"  # noqa: S105 - the demo password, printed by zsjg demo


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _prepare(data_dir: Path) -> None:
    """The demo data, plus 500 tasks for one inspector pair (a cold pull of 500 tasks)."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from backend.clock import SystemClock, local_today
    from backend.db.engine import create_engine, write_intent
    from backend.db.models import InspectionObject, Plan, Team, User
    from backend.demo.seed import seed_if_empty
    from backend.domain.audit.service import Actor, Audit
    from backend.domain.tasks.services import NewTask, TaskService
    from backend.errors import DomainError
    from backend.settings import Settings

    settings = Settings(data_dir=data_dir, demo_mode=True)
    clock = SystemClock()
    await seed_if_empty(settings, clock)
    engine = create_engine(settings.effective_database_url)
    try:
        with write_intent():
            async with (
                async_sessionmaker(engine, expire_on_commit=False)() as session,
                session.begin(),
            ):
                users = {u.username: u for u in (await session.scalars(select(User))).all()}
                a, b = users["insp02"], users["insp03"]
                team = await session.get(Team, a.team_id)
                assert team is not None
                today = local_today(clock)
                plan = Plan(
                    id=uuid.uuid4(),
                    code="BENCH-PLAN",
                    name="基准测试计划",
                    department_id=a.department_id,
                    starts_on=today - timedelta(days=1),
                    ends_on=today + timedelta(days=60),
                )
                session.add(plan)
                objects = (await session.scalars(select(InspectionObject.id))).all()
                service = TaskService(session, clock, Audit(session, clock, Actor.system()))
                made, n = 0, 0
                while made < TASKS:
                    new = NewTask(
                        code=f"BENCH-{n:04d}",
                        name=f"基准任务{n}",
                        plan_id=plan.id,
                        object_id=objects[n % len(objects)],
                        item_codes=["AMR-SP-001"],
                        issued_on=today,
                        due_on=today + timedelta(days=5),
                        inspector_ids=[a.id, b.id],
                        primary_inspector_id=a.id,
                    )
                    n += 1
                    try:
                        async with session.begin_nested():
                            await service.create_task(new, team_id=team.id, by_user_id=team.lead_id)
                    except DomainError:  # e.g. a declared conflict of interest with that object
                        continue
                    made += 1
    finally:
        await engine.dispose()


class Client:
    def __init__(self, http: httpx.AsyncClient, username: str) -> None:
        self.http = http
        self.username = username
        self.device = str(uuid.uuid4())
        self.headers: dict[str, str] = {}
        self.seq = 0

    async def login(self) -> Client:
        r = await self.http.post(
            "/api/v1/auth/login",
            json={"username": self.username, "password": PASSWORD, "device_id": self.device},
        )
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self

    def envelope(self, **extra: Any) -> dict[str, Any]:
        return {"protocol_version": 1, "app_version": "bench", "client_id": self.device, **extra}

    def batch(self, task_id: str) -> list[dict[str, Any]]:
        out = []
        for _ in range(BATCH):
            self.seq += 1
            out.append(
                {
                    "id": str(uuid.uuid4()),
                    "client_id": self.device,
                    "seq": self.seq,
                    "hlc": f"{int(time.time() * 1000):015d}.{self.seq % 1_000_000:06d}.{self.device}",
                    "kind": "create",
                    "entity": "finding",
                    "entity_id": str(uuid.uuid4()),
                    "task_id": task_id,
                    "payload": {"text": f"基准记录{self.seq}"},
                }
            )
        return out


async def _rate(
    clients: list[Client], seconds: float, call: Callable[[Client], Awaitable[int]]
) -> tuple[int, float, int]:
    """Calls made, the time they took, and units of work done, over ``seconds`` with one loop per client."""
    deadline = time.perf_counter() + seconds
    counts = [0] * len(clients)
    units = [0] * len(clients)

    async def loop(i: int, client: Client) -> None:
        while time.perf_counter() < deadline:
            units[i] += await call(client)
            counts[i] += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    return sum(counts), time.perf_counter() - start, sum(units)


async def _measure(base: str, seconds: float, concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        readers = [await Client(http, "insp02").login() for _ in range(concurrency)]
        first = (
            await http.post(
                "/api/v1/sync/pull",
                json=readers[0].envelope(cursor=0, limit=2000),
                headers=readers[0].headers,
            )
        ).json()
        task_ids = [t["id"] for t in first["tasks"]]
        head = first["until"]

        async def ping(c: Client) -> int:
            (await http.get("/api/v1/ping", headers=c.headers)).raise_for_status()
            return 1

        now_at = {"cursor": head}

        async def delta(c: Client) -> int:
            r = await http.post(
                "/api/v1/sync/pull", json=c.envelope(cursor=now_at["cursor"]), headers=c.headers
            )
            r.raise_for_status()
            if r.json()["next_cursor"] != now_at["cursor"]:
                raise RuntimeError("the delta pull must have nothing new")
            return 1

        async def current_head() -> int:
            r = await http.post(
                "/api/v1/sync/pull",
                json=readers[0].envelope(cursor=0, limit=1),
                headers=readers[0].headers,
            )
            r.raise_for_status()
            return int(r.json()["until"])

        async def cold(c: Client) -> int:
            r = await http.post(
                "/api/v1/sync/pull", json=c.envelope(cursor=0, limit=2000), headers=c.headers
            )
            r.raise_for_status()
            return len(r.json()["tasks"])

        pushers = [await Client(http, "insp02").login() for _ in range(concurrency)]

        def push_body(c: Client) -> bytes:
            batch = c.batch(task_ids[c.seq % len(task_ids)])
            return json.dumps(c.envelope(mutations=batch)).encode()

        # the batches are made and encoded before the clock starts (enough for a fast server;
        # more are made as needed): on two cores the load's own making of 100 ids and a JSON
        # body per push would otherwise weigh on what is measured, the server's cost
        bodies = {
            c.device: collections.deque(
                push_body(c) for _ in range(math.ceil(seconds * PREPARED_PUSHES_PER_S))
            )
            for c in pushers
        }

        async def push(c: Client) -> int:
            waiting = bodies[c.device]
            r = await http.post(
                "/api/v1/sync/push",
                content=waiting.popleft() if waiting else push_body(c),
                headers={**c.headers, "Content-Type": "application/json"},
            )
            r.raise_for_status()
            return BATCH

        replayer = await Client(http, "insp03").login()
        replay_batch = replayer.batch(task_ids[0])
        (
            await http.post(
                "/api/v1/sync/push",
                json=replayer.envelope(mutations=replay_batch),
                headers=replayer.headers,
            )
        ).raise_for_status()

        # both bodies are encoded once: what is measured is the server's cost, not the client's
        json_headers = {**replayer.headers, "Content-Type": "application/json"}
        replay_body = json.dumps(replayer.envelope(mutations=replay_batch)).encode()
        empty_body = json.dumps(replayer.envelope(mutations=[])).encode()

        async def replay(c: Client) -> int:
            r = await http.post("/api/v1/sync/push", content=replay_body, headers=json_headers)
            r.raise_for_status()
            return 1

        first_replay = await http.post(
            "/api/v1/sync/push", content=replay_body, headers=json_headers
        )
        first_replay.raise_for_status()
        if any(x["outcome"] != "skipped" for x in first_replay.json()["results"]):
            raise RuntimeError("a replayed push must be answered from last_seq")

        async def empty(c: Client) -> int:
            r = await http.post("/api/v1/sync/push", content=empty_body, headers=json_headers)
            r.raise_for_status()
            return 1

        # The measurements take turns in short rounds, so that a slow spell of the machine
        # (a shared VM's neighbours, a WAL checkpoint) weighs on every figure alike.
        plan: dict[str, tuple[list[Client], Callable[[Client], Awaitable[int]]]] = {
            "ping": (readers, ping),
            "delta": (readers, delta),
            "cold": (readers[:2], cold),
            "push": (pushers, push),
            "replay": ([replayer], replay),
            "empty": ([replayer], empty),
        }
        calls = dict.fromkeys(plan, 0)
        took = dict.fromkeys(plan, 0.0)
        units = dict.fromkeys(plan, 0)
        for _ in range(ROUNDS):
            for name, (clients, call) in plan.items():
                if name == "delta":  # at the head as it is now: the pushes have moved it
                    now_at["cursor"] = await current_head()
                count, elapsed, done = await _rate(clients, seconds / ROUNDS, call)
                calls[name] += count
                took[name] += elapsed
                units[name] += done
        ping_rate, delta_rate, cold_rate, push_rate, replay_rate, empty_rate = (
            calls[name] / took[name] for name in plan
        )
        cold_tasks = units["cold"]
        return {
            "ping_per_s": round(ping_rate, 1),
            "delta_pull_per_s": round(delta_rate, 1),
            "delta_pull_ratio": round(delta_rate / ping_rate, 3),
            "cold_pull_500_tasks_per_s": round(cold_rate, 2),
            "cold_pull_ratio": round(cold_rate / ping_rate, 4),
            "cold_pull_tasks_each": cold_tasks // max(1, calls["cold"]),
            "push_batches_per_s": round(push_rate, 1),
            "push_mutations_per_s": round(units["push"] / took["push"]),
            "push_ratio": round(push_rate / ping_rate, 3),
            "replayed_push_per_s": round(replay_rate, 1),
            "empty_push_per_s": round(empty_rate, 1),
            "replayed_to_empty_cost": round(empty_rate / replay_rate, 3) if replay_rate else None,
            "seconds_per_measure": seconds,
            "concurrency": concurrency,
        }


def wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path, *, seconds: float) -> None:
    """Until ``url`` answers 2xx; a process that stops or a deadline that passes is an error."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the process stopped before {url} answered; see {log}")
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up within {seconds:.0f} s; see {log}")
        time.sleep(0.2)


@contextlib.contextmanager
def served(data: Path, root: Path) -> Iterator[str]:
    """``zsjg demo`` on a free port of 127.0.0.1 with ``data`` (its log in ``root``); yields its URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZSJG_")}
    env["ZSJG_AUDIT_ANCHOR_INTERVAL"] = "0"
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "zsjg"),
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--platform-port",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{base}/healthz", root / "server.log", seconds=120)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def run(seconds: float = 3.0, concurrency: int = 4, keep: Path | None = None) -> dict[str, Any]:
    import logging
    import tempfile

    logging.getLogger("httpx").setLevel(logging.WARNING)

    root = keep or Path(tempfile.mkdtemp(prefix="zsjg-bench-"))
    data = root / "data"
    print(f"preparing {data} (demo data and {TASKS} tasks for one inspector)…", file=sys.stderr)
    from backend.db.migrate import upgrade
    from backend.settings import Settings

    upgrade(Settings(data_dir=data).effective_database_url)
    asyncio.run(_prepare(data))
    with served(data, root) as base:
        print(f"measuring for {seconds:g} s each with {concurrency} clients…", file=sys.stderr)
        figures = asyncio.run(_measure(base, seconds, concurrency))
    print(json.dumps(figures, indent=2))
    return figures

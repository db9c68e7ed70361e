"""Fault test: the server is killed (SIGKILL) in the middle of pushes, 20 rounds, and restarted.

In every fourth round its push writer process is killed instead, and the server lives on.
Every acknowledged mutation is present afterwards, none twice, a killed server's writer ends
on its own, and SQLite's integrity check passes. Bounded: 20 rounds, each with a timeout.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROUNDS = 20
BATCH = 25
ZSJG = Path(sys.executable).parent / "zsjg"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / "server.log"
        self.writers: set[int] = set()
        """Writer processes of servers that were killed: each must end on its own."""

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZSJG_")}
        env["ZSJG_AUDIT_ANCHOR_INTERVAL"] = "0"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(ZSJG),
                    "demo",
                    "--port",
                    str(self.port),
                    "--platform-port",
                    "0",
                    "--data-dir",
                    str(self.data),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.writers |= set(self.writer_pids())
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def writer_pids(self) -> list[int]:
        """The server's push writer processes (``zsjg demo`` writes pushes in a child)."""
        assert self.proc is not None
        found = []
        for entry in Path("/proc").iterdir():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and b"writer_process" in cmdline:
                found.append(int(entry.name))
        return found


def _running(pid: int) -> bool:
    """The process exists and has not ended (a zombie waits only to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_kill_9_in_the_middle_of_pushes(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    server.start()
    rng = random.Random(7)
    device = str(uuid.uuid4())
    try:
        login = httpx.post(
            f"{server.base}/api/v1/auth/login",
            timeout=10,
            json={"username": "insp01", "password": "zsjg-demo", "device_id": device},
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        envelope: dict[str, Any] = {
            "protocol_version": 1,
            "app_version": "kill9",
            "client_id": device,
        }
        pulled = httpx.post(
            f"{server.base}/api/v1/sync/pull",
            json={**envelope, "cursor": 0, "limit": 2000},
            headers=headers,
            timeout=30,
        ).json()
        task = next(
            t for t in pulled["tasks"] if t["status"] in ("assigned", "in_progress", "returned")
        )
        seq = 0
        pending: list[dict[str, Any]] = []
        acknowledged: set[str] = set()
        created: set[str] = set()
        killed_mid_push = 0
        writers_killed = 0

        def push(batch: list[dict[str, Any]], answers: list[Any]) -> None:
            try:
                answers.append(
                    httpx.post(
                        f"{server.base}/api/v1/sync/push",
                        json={**envelope, "mutations": batch},
                        headers=headers,
                        timeout=10,
                    )
                )
            except httpx.TransportError as exc:
                answers.append(exc)

        for round_ in range(ROUNDS):
            for _ in range(BATCH):
                seq += 1
                fid = str(uuid.uuid4())
                created.add(fid)
                pending.append(
                    {
                        "id": str(uuid.uuid4()),
                        "client_id": device,
                        "seq": seq,
                        "hlc": f"{int(time.time() * 1000):015d}.{seq:06d}.{device}",
                        "kind": "create",
                        "entity": "finding",
                        "entity_id": fid,
                        "task_id": task["id"],
                        "payload": {"text": f"第{seq}条记录"},
                    }
                )
            answers: list[Any] = []
            thread = threading.Thread(target=push, args=(list(pending), answers))
            thread.start()
            time.sleep(rng.uniform(0.0, 0.12))
            kill_the_writer = round_ % 4 == 3 and server.writer_pids()
            if kill_the_writer:  # the server lives on: its push is answered 503 or 200
                for pid in server.writer_pids():
                    os.kill(pid, signal.SIGKILL)
                    writers_killed += 1
            else:
                server.kill()
            thread.join(timeout=30)
            response = answers[0] if answers else None
            if isinstance(response, httpx.Response) and response.status_code == 200:
                acknowledged |= {
                    r["mutation_id"]
                    for r in response.json()["results"]
                    if r["outcome"] in ("applied", "duplicate")
                }
            else:
                killed_mid_push += 1
            if not kill_the_writer:
                server.start()
            last_seq = httpx.post(
                f"{server.base}/api/v1/sync/pull",
                json={**envelope, "cursor": 0, "limit": 1},
                headers=headers,
                timeout=30,
            ).json()["last_seq"]
            pending = [m for m in pending if m["seq"] > last_seq]
        # the network heals: push until nothing is pending
        for _ in range(5):
            if not pending:
                break
            r = httpx.post(
                f"{server.base}/api/v1/sync/push",
                json={**envelope, "mutations": pending},
                headers=headers,
                timeout=30,
            )
            assert r.status_code == 200, r.text
            last_seq = r.json()["last_seq"]
            pending = [m for m in pending if m["seq"] > last_seq]
        assert pending == []
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()
    assert killed_mid_push >= 3, "the kills never hit a push in flight: the test proved nothing"
    assert writers_killed >= 3, "the push writer never ran in a child of its own"
    # a killed server's writer finishes what it held and ends on its own
    deadline = time.monotonic() + 60
    while any(_running(pid) for pid in server.writers):
        assert time.monotonic() < deadline, "a killed server's push writer did not end"
        time.sleep(0.2)
    with sqlite3.connect(server.data / "zsjg.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        mine = uuid.UUID(device).bytes  # the demo data has a device and a record of its own
        logged = [
            row[0]
            for row in db.execute(
                "SELECT mutation_id FROM mutation_log WHERE device_id = ?", (mine,)
            )
        ]
        assert len(logged) == len(set(logged)) == ROUNDS * BATCH, (
            "a mutation was applied twice or lost"
        )
        assert acknowledged <= set(logged), "an acknowledged mutation is missing"
        findings = {
            row[0]
            for row in db.execute(
                "SELECT lower(hex(sync_records.id)) FROM sync_records"
                " JOIN mutation_log ON mutation_log.task_id = sync_records.task_id"
                " WHERE sync_records.entity = 'finding' AND mutation_log.device_id = ?",
                (mine,),
            )
        }
        assert len(findings) == len(created)

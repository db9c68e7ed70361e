"""tus-js-client, the PWA's upload client, against the backend: upload, a cut mid-chunk, resume."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from tests.media import files
from tests.world import PASSWORD, build_world

pytestmark = pytest.mark.anyio
Maker = async_sessionmaker[AsyncSession]
HERE = Path(__file__).parent / "tus_js"
CHUNK = 256 * 1024
ONE_TRIP_MAX = 64 * 1024
"""``ONE_TRIP_MAX`` in pwa/src/media/uploads.ts: a file up to this size rides in the creating request."""
NODE = shutil.which("node")


def run_client(*args: str) -> list[dict[str, Any]]:
    """Run ``upload.mjs`` (bounded in time) and return the events it printed."""
    if NODE is None or not (HERE / "node_modules" / "tus-js-client").is_dir():
        pytest.fail("node and tests/media/tus_js/node_modules are needed: run `npm ci` there")
    done = subprocess.run(
        [NODE, str(HERE / "upload.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events, f"no output (exit {done.returncode}): {done.stderr[-2000:]}"
    return events


def file_args(base: str, token: str, path: Path, task: object, data: bytes) -> list[str]:
    """``upload.mjs``'s arguments for sending ``data`` (written at ``path``) for a task."""
    return [
        "--endpoint", f"{base}/api/v1/uploads",
        "--token", token,
        "--file", str(path),
        "--task", str(task),
        "--sha256", files.sha256(data),
    ]  # fmt: skip


async def sign_in(http: httpx.AsyncClient) -> str:
    """amr_a's access token on a new phone."""
    r = await http.post(
        "/api/v1/auth/login",
        json={"username": "amr_a", "password": PASSWORD, "device_id": str(uuid.uuid4())},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def test_tus_js_client_is_cut_off_mid_chunk_then_resumes(
    served: str, session_maker: Maker, clock: FixedClock, tmp_path: Path
) -> None:
    world = await build_world(session_maker, clock)
    data = files.jpeg(2400, 1800)
    assert len(data) > 4 * CHUNK
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    base = f"http://{served}"
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        token = await sign_in(http)
        common = [*file_args(base, token, path, world["t1"], data), "--chunk", str(CHUNK)]
        cut = run_client(*common, "--die-at", str(2 * CHUNK + CHUNK // 3))
        url = next(e["url"] for e in cut if "url" in e)
        assert "died_at" in cut[-1], cut
        auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
        head = await http.head(url, headers=auth)
        assert head.status_code == 200
        kept = int(head.headers["upload-offset"])
        assert 2 * CHUNK <= kept < len(data)

        resumed = run_client(*common, "--resume", url)
        assert resumed[-1] == {"done": url}, resumed
        got = await http.get(
            f"/api/v1/tasks/{world['t1']}/files/{files.sha256(data)}", headers=auth
        )
        assert got.status_code == 200
        assert files.sha256(got.content) == files.sha256(data)


async def test_tus_js_client_sends_a_small_file_in_one_request_and_a_large_one_resumably(
    served: str, session_maker: Maker, clock: FixedClock, tmp_path: Path
) -> None:
    """As the PWA sends: a signature rides in the creating request; a photo is created first,
    so that a cut in its first chunk can be resumed by the upload's address."""
    world = await build_world(session_maker, clock)
    small, large = files.jpeg(160, 120), files.jpeg(800, 600)
    assert len(small) <= ONE_TRIP_MAX < len(large) < CHUNK
    base = f"http://{served}"
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        token = await sign_in(http)
        auth = {"Authorization": f"Bearer {token}"}
        for data, requests in ((small, ["POST"]), (large, ["POST", "PATCH"])):
            path = tmp_path / f"{len(data)}.jpg"
            path.write_bytes(data)
            events = run_client(
                *file_args(base, token, path, world["t1"], data), "--chunk", str(CHUNK)
            )
            assert [e["request"] for e in events if "request" in e] == requests, events
            assert "done" in events[-1], events
            got = await http.get(
                f"/api/v1/tasks/{world['t1']}/files/{files.sha256(data)}", headers=auth
            )
            assert got.status_code == 200
            assert got.content == data


async def test_tus_js_client_sees_a_disguised_file_refused(
    served: str, session_maker: Maker, clock: FixedClock, tmp_path: Path
) -> None:
    world = await build_world(session_maker, clock)
    data = files.html()
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    base = f"http://{served}"
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        token = await sign_in(http)
    events = run_client(*file_args(base, token, path, world["t1"], data))
    assert events[-1]["status"] == 415, events

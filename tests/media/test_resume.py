"""A real connection cut in the middle of a PATCH, against the app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from tests.media import files
from tests.media.tus_client import PATCH_TYPE, TUS, checksum, metadata
from tests.world import PASSWORD, World, build_world

pytestmark = pytest.mark.anyio
CHUNK = 256 * 1024
Maker = async_sessionmaker[AsyncSession]


def cut_patch(
    address: str, path: str, token: str, offset: int, body: bytes, send: int, **headers: str
) -> None:
    """Announce ``len(body)`` bytes, send only ``send`` of them, then drop the connection."""
    host, port = address.split(":")
    lines = [
        f"PATCH {path} HTTP/1.1",
        f"Host: {address}",
        f"Authorization: Bearer {token}",
        "Tus-Resumable: 1.0.0",
        "Content-Type: application/offset+octet-stream",
        f"Upload-Offset: {offset}",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        s.sendall(body[:send])
        s.shutdown(socket.SHUT_RDWR)


async def wait_for_offset(
    http: httpx.AsyncClient, location: str, auth: dict[str, str], above: int
) -> int:
    deadline = time.monotonic() + 20
    while True:
        r = await http.head(location, headers={**auth, **TUS})
        if r.status_code == 200 and int(r.headers["upload-offset"]) > above:
            return int(r.headers["upload-offset"])
        assert time.monotonic() < deadline, f"offset stayed at {r.headers.get('upload-offset')}"
        await asyncio.sleep(0.05)


async def settled_offset(http: httpx.AsyncClient, location: str, auth: dict[str, str]) -> int:
    """The offset once the cut request has let go of the upload (423 until then)."""
    deadline = time.monotonic() + 20
    while True:
        r = await http.head(location, headers={**auth, **TUS})
        if r.status_code != 423:
            assert r.status_code == 200, r.text
            return int(r.headers["upload-offset"])
        assert time.monotonic() < deadline, "the cut request never let go of the upload"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("with_checksum", [False, True], ids=["plain", "checksummed"])
async def test_resume_after_a_cut_connection_resends_at_most_one_chunk(
    served: str, session_maker: Maker, clock: FixedClock, with_checksum: bool
) -> None:
    world: World = await build_world(session_maker, clock)
    data = files.jpeg(2000, 1500)
    assert len(data) > 3 * CHUNK
    async with httpx.AsyncClient(base_url=f"http://{served}", timeout=20) as http:
        login = await http.post(
            "/api/v1/auth/login",
            json={
                "username": "amr_a",
                "password": PASSWORD,
                "device_id": "5f0c7a3e-3c1e-4a55-9d7e-000000000001",
            },
        )
        token = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = await http.post(
            "/api/v1/uploads",
            headers={
                **auth,
                **TUS,
                "Upload-Length": str(len(data)),
                "Upload-Metadata": metadata(sha256=files.sha256(data), task_id=str(world["t1"])),
            },
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        sent = 0

        def chunk_headers(part: bytes) -> dict[str, str]:
            return {"Upload-Checksum": checksum(part)} if with_checksum else {}

        first = await http.patch(
            location,
            content=data[:CHUNK],
            headers={
                **auth,
                **TUS,
                **PATCH_TYPE,
                "Upload-Offset": "0",
                **chunk_headers(data[:CHUNK]),
            },
        )
        assert first.status_code == 204
        sent += CHUNK

        second = data[CHUNK : 2 * CHUNK]
        await asyncio.to_thread(
            cut_patch, served, location, token, CHUNK, second, CHUNK // 2, **chunk_headers(second)
        )
        sent += CHUNK // 2
        # the server keeps what arrived (plain) or drops the unverifiable part (checksummed)
        if with_checksum:  # nothing of the cut chunk is ever recorded
            offset = await settled_offset(http, location, auth)
            assert offset == CHUNK
        else:
            offset = await wait_for_offset(http, location, auth, above=CHUNK)
            assert CHUNK < offset <= CHUNK + CHUNK // 2

        deadline = time.monotonic() + 20
        while offset < len(data):
            part = data[offset : offset + CHUNK]
            r = await http.patch(
                location,
                content=part,
                headers={
                    **auth,
                    **TUS,
                    **PATCH_TYPE,
                    "Upload-Offset": str(offset),
                    **chunk_headers(part),
                },
            )
            if r.status_code == 423:  # the cut request may still hold the lock for a moment
                assert time.monotonic() < deadline, "the cut request never let go of the upload"
                await asyncio.sleep(0.05)
                continue
            assert r.status_code == 204, r.text
            sent += len(part)
            offset = int(r.headers["upload-offset"])

        assert sent - len(data) <= CHUNK  # at most one chunk was sent twice
        got = await http.get(
            f"/api/v1/tasks/{world['t1']}/files/{files.sha256(data)}", headers=auth
        )
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == files.sha256(data)

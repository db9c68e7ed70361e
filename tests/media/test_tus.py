"""The tus endpoints as the protocol says, the checks on what is stored, and who may touch it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import AuditEvent, StoredFile, Upload
from backend.settings import Settings
from tests.media import files
from tests.media.tus_client import PATCH_TYPE, TUS, checksum, create, patch, upload
from tests.world import World, build_world, login

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


def stored_paths(settings: Settings) -> list[Path]:
    root = settings.data_dir / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def count(session_maker: Maker, model: type) -> int:
    async with session_maker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_discovery_needs_no_sign_in(client: Client) -> None:
    r = await client.options("/api/v1/uploads/")
    assert r.status_code == 204
    assert r.headers["tus-resumable"] == "1.0.0"
    assert r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
        "expiration",
    }
    assert "sha256" in r.headers["tus-checksum-algorithm"].split(",")
    assert int(r.headers["tus-max-size"]) > 1_000_000


async def test_upload_in_chunks_then_read_back_through_the_task(
    client: Client, world: World, session_maker: Maker
) -> None:
    auth = await login(client, "amr_a")
    data = files.jpeg()
    created = await create(client, auth, str(world["t1"]), data, filename="现场.jpg")
    assert created.status_code == 201, created.text
    assert created.headers["tus-resumable"] == "1.0.0"
    assert created.headers["upload-expires"].endswith("GMT")
    location = created.headers["location"]
    assert location.startswith("/api/v1/uploads/")

    head = await client.head(location, headers={**auth, **TUS})
    assert head.status_code == 200
    assert head.headers["upload-offset"] == "0"
    assert head.headers["upload-length"] == str(len(data))
    assert head.headers["cache-control"] == "no-store"

    first = await patch(
        client, auth, location, 0, data[:50_000], **{"Upload-Checksum": checksum(data[:50_000])}
    )
    assert first.status_code == 204, first.text
    assert first.headers["upload-offset"] == "50000"
    assert (await client.head(location, headers={**auth, **TUS})).headers[
        "upload-offset"
    ] == "50000"
    last = await patch(client, auth, location, 50_000, data[50_000:])
    assert last.status_code == 204, last.text
    assert last.headers["upload-offset"] == str(len(data))

    digest = files.sha256(data)
    assert (await client.head(f"/api/v1/files/{digest}", headers=auth)).status_code == 200
    got = await client.get(f"/api/v1/tasks/{world['t1']}/files/{digest}", headers=auth)
    assert got.status_code == 200
    assert got.content == data  # byte for byte, EXIF intact
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["x-content-type-options"] == "nosniff"
    thumb = await client.get(f"/api/v1/tasks/{world['t1']}/files/{digest}/thumbnail", headers=auth)
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    assert len(thumb.content) < len(data)

    async with session_maker() as s:
        row = await s.get(StoredFile, digest)
        assert row is not None
        assert (row.width, row.height, row.media_type) == (640, 480, "image/jpeg")
        assert row.exif_taken_at == "2026-11-30T10:15:42+08:00"
        assert (row.exif_latitude, row.exif_longitude) == ("28.682000", "115.892167")
        events = (
            await s.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == digest))
        ).all()
    assert events == ["file_accepted"]


@pytest.mark.parametrize("maker", [files.png, files.webp])
async def test_png_and_webp_are_accepted(client: Client, world: World, maker: object) -> None:
    auth = await login(client, "amr_a")
    data = maker()  # type: ignore[operator]
    _, last = await upload(client, auth, str(world["t1"]), data)
    assert last.status_code == 204, last.text


async def test_creation_with_upload(client: Client, world: World) -> None:
    auth = await login(client, "amr_a")
    data = files.png()
    r = await client.post(
        "/api/v1/uploads/",
        content=data,
        headers={
            **auth,
            **TUS,
            **PATCH_TYPE,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"sha256 {__import__('base64').b64encode(files.sha256(data).encode()).decode()},task_id {__import__('base64').b64encode(str(world['t1']).encode()).decode()}",
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["upload-offset"] == str(len(data))
    assert (
        await client.head(f"/api/v1/files/{files.sha256(data)}", headers=auth)
    ).status_code == 200


async def test_protocol_errors(client: Client, world: World, settings: Settings) -> None:
    auth = await login(client, "amr_a")
    data = files.jpeg()
    location = (await create(client, auth, str(world["t1"]), data)).headers["location"]

    wrong_version = await client.head(location, headers={**auth, "Tus-Resumable": "0.2.2"})
    assert wrong_version.status_code == 412
    assert wrong_version.headers["tus-version"] == "1.0.0"

    wrong_type = await client.patch(
        location,
        content=data[:10],
        headers={**auth, **TUS, "Upload-Offset": "0", "Content-Type": "image/jpeg"},
    )
    assert wrong_type.status_code == 415

    ahead = await patch(client, auth, location, 100, data[:100])
    assert ahead.status_code == 409
    assert ahead.headers["tus-resumable"] == "1.0.0"

    bad_sum = await patch(
        client, auth, location, 0, data[:1000], **{"Upload-Checksum": checksum(b"other bytes")}
    )
    assert bad_sum.status_code == 460
    assert (await client.head(location, headers={**auth, **TUS})).headers["upload-offset"] == "0"

    bad_algorithm = await patch(
        client, auth, location, 0, data[:1000], **{"Upload-Checksum": "md4 AAAA"}
    )
    assert bad_algorithm.status_code == 400

    too_much = await patch(client, auth, location, 0, data + b"extra")
    assert too_much.status_code == 400
    assert (await client.head(location, headers={**auth, **TUS})).headers["upload-offset"] == "0"

    sha1 = await patch(
        client, auth, location, 0, data[:1000], **{"Upload-Checksum": checksum(data[:1000], "sha1")}
    )
    assert sha1.status_code == 204

    for bad_meta in ["sha256", "task_id AAAA", "sha256 !!!"]:
        r = await client.post(
            "/api/v1/uploads/",
            headers={**auth, **TUS, "Upload-Length": "10", "Upload-Metadata": bad_meta},
        )
        assert r.status_code == 400, bad_meta
    huge = await create(client, auth, str(world["t1"]), data)
    assert huge.status_code == 201
    too_large = await client.post(
        "/api/v1/uploads/",
        headers={
            **auth,
            **TUS,
            "Upload-Length": str(settings.upload_max_bytes + 1),
            "Upload-Metadata": f"sha256 {__import__('base64').b64encode(b'0' * 64).decode()}",
        },
    )
    assert too_large.status_code == 413


@pytest.mark.parametrize(
    "maker", [files.html, files.svg, files.zip_file], ids=["html", "svg", "zip"]
)
async def test_disguised_files_are_refused_on_the_first_chunk_and_nothing_is_stored(
    client: Client, world: World, session_maker: Maker, settings: Settings, maker: object
) -> None:
    auth = await login(client, "amr_a")
    data = maker()  # type: ignore[operator]
    created = await create(
        client, auth, str(world["t1"]), data, filename="photo.jpg", filetype="image/jpeg"
    )
    location = created.headers["location"]
    r = await patch(client, auth, location, 0, data)
    assert r.status_code == 415, r.text
    assert r.json()["code"] == "unsupported-file-type"
    assert (await client.head(location, headers={**auth, **TUS})).status_code == 410
    assert stored_paths(settings) == []
    assert await count(session_maker, StoredFile) == 0
    async with session_maker() as s:
        refused = (
            await s.scalars(select(AuditEvent.action).where(AuditEvent.action == "file_refused"))
        ).all()
    assert refused == ["file_refused"]


@pytest.mark.parametrize(
    ("maker", "status"),
    [(files.png_bomb, 413), (files.jpeg_magic_then_garbage, 415)],
    ids=["decompression-bomb", "jpeg-magic-then-garbage"],
)
async def test_bombs_and_fake_images_are_refused_with_nothing_stored(
    client: Client,
    world: World,
    session_maker: Maker,
    settings: Settings,
    maker: object,
    status: int,
) -> None:
    auth = await login(client, "amr_a")
    data = maker()  # type: ignore[operator]
    _, last = await upload(client, auth, str(world["t1"]), data)
    assert last.status_code == status, last.text
    assert stored_paths(settings) == []
    assert await count(session_maker, StoredFile) == 0


async def test_a_truncated_photo_is_kept_and_marked_not_decodable(
    client: Client, world: World, session_maker: Maker
) -> None:
    """What the phone captured is never lost: the file is kept, the lead sees it cannot be shown."""
    auth = await login(client, "amr_a")
    data = files.truncated_jpeg()
    _, last = await upload(client, auth, str(world["t1"]), data)
    assert last.status_code == 204, last.text
    digest = files.sha256(data)
    base = f"/api/v1/tasks/{world['t1']}/files/{digest}"
    assert (await client.get(base, headers=auth)).content == data
    thumb = await client.get(f"{base}/thumbnail", headers=auth)
    assert thumb.status_code == 404
    async with session_maker() as s:
        row = await s.get(StoredFile, digest)
        assert row is not None and row.decode_error and not row.has_thumbnail


async def test_a_file_that_is_not_the_declared_digest_is_refused(
    client: Client, world: World, session_maker: Maker, settings: Settings
) -> None:
    auth = await login(client, "amr_a")
    data = files.jpeg()
    other = files.jpeg(seed=1)
    created = await create(client, auth, str(world["t1"]), other)  # declares another file
    assert created.status_code == 201
    location = created.headers["location"]
    body = (
        data[: len(other)] if len(data) >= len(other) else data + b"\0" * (len(other) - len(data))
    )
    r = await patch(client, auth, location, 0, body)
    assert r.status_code == 460, r.text
    assert r.json()["code"] == "checksum-mismatch"
    assert stored_paths(settings) == []
    assert await count(session_maker, StoredFile) == 0


async def test_nobody_else_can_continue_read_or_end_an_upload(client: Client, world: World) -> None:
    owner = await login(client, "amr_a")
    data = files.jpeg()
    location = (await create(client, owner, str(world["t1"]), data)).headers["location"]
    assert (await patch(client, owner, location, 0, data[:1000])).status_code == 204

    partner = await login(client, "amr_b")  # on the same task, another user
    other_device = await login(client, "amr_a")  # the same user on another phone
    stranger = await login(client, "other_x")
    for auth in (partner, other_device, stranger):
        assert (await client.head(location, headers={**auth, **TUS})).status_code == 404
        assert (await patch(client, auth, location, 1000, data[1000:2000])).status_code == 404
        assert (await client.delete(location, headers={**auth, **TUS})).status_code == 404
    assert (await client.head(location, headers={**owner, **TUS})).headers[
        "upload-offset"
    ] == "1000"
    assert (await client.head(location, headers=TUS)).status_code == 401

    # an upload for someone else's task cannot even be created
    r = await create(client, stranger, str(world["t1"]), data)
    assert r.status_code == 404


async def test_files_are_served_only_to_those_who_may_see_the_task(
    client: Client, world: World
) -> None:
    owner = await login(client, "amr_a")
    data = files.jpeg()
    _, last = await upload(client, owner, str(world["t1"]), data)
    assert last.status_code == 204
    digest = files.sha256(data)
    url = f"/api/v1/tasks/{world['t1']}/files/{digest}"
    assert (await client.get(url, headers=await login(client, "amr_b"))).status_code == 200
    assert (await client.get(url, headers=await login(client, "lead1"))).status_code == 200
    for outsider in ("other_x", "lead2", "op"):
        r = await client.get(url, headers=await login(client, outsider))
        assert r.status_code in (403, 404), outsider
    # the digest through a task that does not name it opens nothing, even for its own inspectors
    stranger = await login(client, "other_x")
    assert (
        await client.get(f"/api/v1/tasks/{world['t2']}/files/{digest}", headers=stranger)
    ).status_code == 404


async def test_termination_and_expiry(
    client: Client, world: World, clock: FixedClock, settings: Settings
) -> None:
    phone = uuid.uuid4()
    auth = await login(client, "amr_a", phone)
    data = files.jpeg()
    ended = (await create(client, auth, str(world["t1"]), data)).headers["location"]
    assert (await patch(client, auth, ended, 0, data[:1000])).status_code == 204
    r = await client.delete(ended, headers={**auth, **TUS})
    assert r.status_code == 204
    assert (await client.head(ended, headers={**auth, **TUS})).status_code == 404
    assert (await patch(client, auth, ended, 1000, data[1000:])).status_code == 404

    left = (await create(client, auth, str(world["t1"]), data)).headers["location"]
    clock.advance(settings.upload_expiry + timedelta(seconds=1))
    auth = await login(client, "amr_a", phone)  # the token expired too; the same phone signs in
    assert (await client.head(left, headers={**auth, **TUS})).status_code == 410
    assert (await patch(client, auth, left, 0, data)).status_code == 410
    # the next creation sweeps it: its spool file is gone
    await create(client, auth, str(world["t1"]), data)
    spool = settings.data_dir / "files" / "spool"
    assert not (spool / f"{uuid.UUID(left.rsplit('/', 1)[1]).hex}.part").exists()


async def test_after_a_crash_the_offset_is_what_the_disk_holds(
    client: Client, world: World, settings: Settings
) -> None:
    auth = await login(client, "amr_a")
    data = files.jpeg()
    location = (await create(client, auth, str(world["t1"]), data)).headers["location"]
    assert (await patch(client, auth, location, 0, data[:40_000])).status_code == 204
    upload_id = uuid.UUID(location.rsplit("/", 1)[1])
    spool = settings.data_dir / "files" / "spool" / f"{upload_id.hex}.part"
    with spool.open("r+b") as f:  # the machine lost the tail of what it had written
        f.truncate(25_000)
    head = await client.head(location, headers={**auth, **TUS})
    assert head.headers["upload-offset"] == "25000"
    assert (await patch(client, auth, location, 40_000, data[40_000:])).status_code == 409
    assert (await patch(client, auth, location, 25_000, data[25_000:])).status_code == 204
    got = await client.get(f"/api/v1/tasks/{world['t1']}/files/{files.sha256(data)}", headers=auth)
    assert got.content == data


async def test_bytes_damaged_on_disk_are_caught_by_the_whole_file_hash(
    client: Client, world: World, settings: Settings, session_maker: Maker
) -> None:
    auth = await login(client, "amr_a")
    data = files.jpeg()
    location = (await create(client, auth, str(world["t1"]), data)).headers["location"]
    assert (await patch(client, auth, location, 0, data[:40_000])).status_code == 204
    upload_id = uuid.UUID(location.rsplit("/", 1)[1])
    spool = settings.data_dir / "files" / "spool" / f"{upload_id.hex}.part"
    with spool.open("r+b") as f:  # a crash left zeros where data should be
        f.seek(30_000)
        f.write(b"\x00" * 1000)
    last = await patch(client, auth, location, 40_000, data[40_000:])
    assert last.status_code == 460
    assert await count(session_maker, StoredFile) == 0
    assert [p for p in stored_paths(settings) if p.name == files.sha256(data)] == []


async def test_a_second_upload_of_a_stored_file_keeps_one_copy(
    client: Client, world: World, settings: Settings, session_maker: Maker
) -> None:
    a = await login(client, "amr_a")
    b = await login(client, "amr_b")
    data = files.jpeg()
    for auth in (a, b):
        _, last = await upload(client, auth, str(world["t1"]), data)
        assert last.status_code == 204
    originals = [p for p in stored_paths(settings) if p.name == files.sha256(data)]
    assert len(originals) == 1
    assert await count(session_maker, StoredFile) == 1
    assert await count(session_maker, Upload) == 2


async def test_the_expiry_sweep_leaves_an_upload_a_request_is_writing(
    client: Client, world: World, clock: FixedClock, settings: Settings
) -> None:
    import fcntl

    phone = uuid.uuid4()
    auth = await login(client, "amr_a", phone)
    data = files.jpeg()
    location = (await create(client, auth, str(world["t1"]), data)).headers["location"]
    spool = (
        settings.data_dir
        / "files"
        / "spool"
        / f"{location.rsplit('/', 1)[1].replace('-', '')}.part"
    )
    clock.advance(settings.upload_expiry + timedelta(minutes=2))
    auth = await login(client, "amr_a", phone)
    with spool.open("rb") as f:  # as a PATCH in progress holds it
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        await create(client, auth, str(world["t1"]), files.png())  # sweeps what expired
        assert spool.exists()
    clock.advance(timedelta(minutes=2))
    await create(client, auth, str(world["t1"]), files.png())
    assert not spool.exists()  # once the writer is gone, the next sweep ends it

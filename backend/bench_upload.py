"""``zsjg bench upload``: tus upload throughput against a raw disk write of the same bytes, in one run.

It starts the demo server on 127.0.0.1 (embedded SQLite, files under its data directory),
signs in as a demo inspector and uploads JPEG photos (distinct files of noise, so they do not
compress, each checked, hashed again and stored by the server) with tus, one request
answered before the next, as a phone does. By default each file is a 12-megapixel original
sent whole in its creating request (creation-with-upload); with ``--chunk-mb`` each is
created first and then sent in PATCH chunks, as the PWA's tus-js-client sends a file over
64 KB. ``--pwa`` sends what the PWA sends for each photo: the original and the evidence
image (1,600 px on its long edge, JPEG quality 80), in 512 KB chunks. The baseline writes
the same bytes in the same chunks to a file on the same disk and flushes it to disk
(``fsync``): what storing them costs at the least. The two take turns, file by file, so the
machine's slow spells weigh on both alike.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from backend.bench import PASSWORD, served

TUS = {"Tus-Resumable": "1.0.0"}


PWA_CHUNK_MB = 0.5
"""The PWA's tus chunk (``CHUNK`` in ``pwa/src/media/uploads.ts``)."""
PWA_ONE_TRIP_MAX = 64 * 1024
"""A file the PWA sends whole in its creating request (``ONE_TRIP_MAX`` there)."""
PWA_LONG_EDGE, PWA_QUALITY = 1600, 80
"""The PWA's evidence image (``pwa/src/media/watermark.ts``)."""


def _photos(count: int, width: int, height: int, quality: int = 90) -> list[bytes]:
    from PIL import Image

    photos = []
    for i in range(count):
        img = Image.effect_noise((width, height), 24 + i).convert("RGB")
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality)
        photos.append(out.getvalue())
    return photos


def _raw_write(folder: Path, data: bytes, chunk: int) -> float:
    path = folder / "raw.bin"
    start = time.perf_counter()
    with path.open("wb") as f:
        for at in range(0, len(data), chunk):
            f.write(data[at : at + chunk])
        f.flush()
        os.fsync(f.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def _upload(
    http: httpx.Client, auth: dict[str, str], task_id: str, data: bytes, chunk: int
) -> float:
    digest = hashlib.sha256(data).hexdigest()
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"sha256": digest, "task_id": task_id, "filename": "bench.jpg"}.items()
    )
    headers = {**auth, **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": meta}
    start = time.perf_counter()
    if chunk == 0 or len(data) <= PWA_ONE_TRIP_MAX:  # whole, in the creating request
        created = http.post(
            "/api/v1/uploads",
            content=data,
            headers={**headers, "Content-Type": "application/offset+octet-stream"},
        )
        offset = int(created.headers.get("upload-offset", -1))
    else:  # created first, then sent in chunks
        created = http.post("/api/v1/uploads", headers=headers)
        offset = 0
    if created.status_code != 201:
        raise RuntimeError(f"creation failed: {created.status_code} {created.text}")
    location = created.headers["location"]
    while offset < len(data):
        r = http.patch(
            location,
            content=data[offset : offset + chunk],
            headers={
                **auth,
                **TUS,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
            },
        )
        if r.status_code != 204:
            raise RuntimeError(f"PATCH failed: {r.status_code} {r.text}")
        offset = int(r.headers["upload-offset"])
    elapsed = time.perf_counter() - start
    if http.head(f"/api/v1/files/{digest}", headers=auth).status_code != 200:
        raise RuntimeError("the uploaded file is not stored")
    return elapsed


def run(
    files: int = 6,
    chunk_mb: float = 0.0,
    width: int = 4000,
    height: int = 3000,
    *,
    like_pwa: bool = False,
) -> dict[str, Any]:
    import asyncio
    import logging

    from backend.clock import SystemClock
    from backend.db.migrate import upgrade
    from backend.demo.seed import seed_if_empty
    from backend.settings import Settings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="zsjg-bench-upload-"))
    data_dir = root / "data"
    settings = Settings(data_dir=data_dir, demo_mode=True)
    print(f"preparing {data_dir} and {files} photos of {width}×{height}…", file=sys.stderr)
    upgrade(settings.effective_database_url)
    asyncio.run(seed_if_empty(settings, SystemClock()))
    photos = _photos(files, width, height)
    if like_pwa:  # each photo's original, then its evidence image
        edge = max(width, height)
        scaled = _photos(
            files, width * PWA_LONG_EDGE // edge, height * PWA_LONG_EDGE // edge, PWA_QUALITY
        )
        photos = [p for pair in zip(photos, scaled, strict=True) for p in pair]
        chunk_mb = PWA_CHUNK_MB
    chunk = int(chunk_mb * 1024 * 1024)
    raw_folder = data_dir / "raw-write"
    raw_folder.mkdir(parents=True)
    with served(data_dir, root) as base, httpx.Client(base_url=base, timeout=120) as http:
        login = http.post(
            "/api/v1/auth/login",
            json={"username": "insp02", "password": PASSWORD, "device_id": str(uuid.uuid4())},
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        task_id = http.get("/api/v1/tasks/", headers=auth, params={"limit": 1}).json()["items"][0][
            "id"
        ]
        _upload(http, auth, task_id, _photos(1, 640, 480)[0], chunk)  # warm up
        how = f"in {chunk_mb:g} MB chunks" if chunk else "each in its creating request"
        print(f"uploading {len(photos)} files {how}…", file=sys.stderr)
        raw_seconds = upload_seconds = 0.0
        for photo in photos:
            raw_seconds += _raw_write(raw_folder, photo, chunk or len(photo))
            upload_seconds += _upload(http, auth, task_id, photo, chunk)
    total_mb = sum(len(p) for p in photos) / 1024 / 1024
    raw_rate, upload_rate = total_mb / raw_seconds, total_mb / upload_seconds
    figures = {
        "raw_disk_write_mb_per_s": round(raw_rate, 1),
        "upload_mb_per_s": round(upload_rate, 1),
        "upload_ratio": round(upload_rate / raw_rate, 3),
        "files": len(photos),
        "file_mb": round(total_mb / len(photos), 2),
        "chunk_mb": chunk_mb,
        "like_pwa": like_pwa,
    }
    print(json.dumps(figures, indent=2))
    return figures

"""Hand-made tus requests for the tests: each header as the protocol says, nothing hidden."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]
TUS = {"Tus-Resumable": "1.0.0"}
PATCH_TYPE = {"Content-Type": "application/offset+octet-stream"}


def metadata(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def checksum(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


async def create(
    client: Client, auth: dict[str, str], task_id: str, data: bytes, **extra_meta: str
) -> Any:
    meta = {"sha256": hashlib.sha256(data).hexdigest(), "task_id": task_id, **extra_meta}
    return await client.post(
        "/api/v1/uploads/",
        headers={
            **auth,
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata(**meta),
        },
    )


async def patch(
    client: Client, auth: dict[str, str], location: str, offset: int, data: bytes, **headers: str
) -> Any:
    return await client.patch(
        location,
        content=data,
        headers={**auth, **TUS, **PATCH_TYPE, "Upload-Offset": str(offset), **headers},
    )


async def upload(
    client: Client, auth: dict[str, str], task_id: str, data: bytes, chunk: int = 64 * 1024
) -> tuple[str, Any]:
    """Create and send the whole file in chunks; return the location and the last answer."""
    created = await create(client, auth, task_id, data)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    offset, answer = 0, created
    while offset < len(data):
        answer = await patch(client, auth, location, offset, data[offset : offset + chunk])
        if answer.status_code != 204:
            return location, answer
        offset = int(answer.headers["upload-offset"])
    return location, answer

"""A minimal sync client for tests: one device, its seq counter and what it has pulled."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.world import PASSWORD

Client = AsyncTestClient[Litestar]
HLC_MS = 1_764_468_000_000  # 2026-11-30 02:00 UTC, the test clock's "now"


class Phone:
    """A minimal protocol client: a device, its seq counter and what it has pulled."""

    def __init__(self, client: Client, username: str, clock_ms: int = HLC_MS) -> None:
        self.clock_ms = clock_ms
        self.client = client
        self.username = username
        self.device = str(uuid.uuid4())
        self.seq = 0
        self.headers: dict[str, str] = {}
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.cursor = 0

    async def login(self) -> Phone:
        r = await self.client.post(
            "/api/v1/auth/login",
            json={"username": self.username, "password": PASSWORD, "device_id": self.device},
        )
        assert r.status_code == 200, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self

    def mutation(
        self,
        kind: str,
        entity: str,
        entity_id: str,
        task_id: str,
        payload: dict[str, Any],
        **extra: Any,
    ) -> dict[str, Any]:
        self.seq += 1
        return {
            "id": str(uuid.uuid4()),
            "client_id": self.device,
            "seq": self.seq,
            "hlc": f"{self.clock_ms + self.seq:015d}.000000.{self.device}",
            "kind": kind,
            "entity": entity,
            "entity_id": entity_id,
            "task_id": task_id,
            "payload": payload,
            **extra,
        }

    def set(self, entity: str, entity_id: str, task_id: str, **fields: Any) -> dict[str, Any]:
        record = self.records[(entity, entity_id)]
        base = {
            name: record["fields"].get(name, {}).get("version", record["version"])
            for name in fields
        }
        return self.mutation("set", entity, entity_id, task_id, fields, base_versions=base)

    async def push(self, *mutations: Any, **envelope: Any) -> Any:
        body = {
            "protocol_version": 1,
            "app_version": "test",
            "client_id": self.device,
            "mutations": list(mutations),
            **envelope,
        }
        return await self.client.post("/api/v1/sync/push", json=body, headers=self.headers)

    async def pull(self, **extra: Any) -> dict[str, Any]:
        body = {
            "protocol_version": 1,
            "app_version": "test",
            "client_id": self.device,
            "cursor": self.cursor,
            **extra,
        }
        r = await self.client.post("/api/v1/sync/pull", json=body, headers=self.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        for record in page["records"]:
            self.records[(record["entity"], record["id"])] = record
        if not page["has_more"]:
            self.cursor = page["next_cursor"]
        return page


def check_item(phone: Phone, task_id: str) -> str:
    return next(
        rid
        for (entity, rid), r in sorted(phone.records.items())
        if entity == "check_item" and r["task_id"] == task_id
    )

"""Device registration, push and pull (``docs/sync-protocol.md``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from backend.db.models import Device, DeviceSync
from backend.errors import DeviceOwnedByAnotherUser
from backend.http.deps import Caller, Ctx, DbSession
from backend.http.security import request_id_of, requires_inspector
from sync import PullRequest, PushEnvelope, PushRequest, PushResponse

from .pull import PullService, nothing_new
from .schemas import DeviceOut, PullResponse
from .services import check_envelope


class RegisterDevice(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    device_id: uuid.UUID
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00]*$")] = (
        "未命名设备"
    )


class DeviceController(Controller):
    path = "/api/v1/devices"
    tags = ["sync"]

    @post("/", operation_id="registerDevice", status_code=HTTP_200_OK)
    async def register(
        self, data: JSONBody[RegisterDevice], principal: Caller, ctx: Ctx, db_session: DbSession
    ) -> DeviceOut:
        """Register (or confirm) this install for me; a device belongs to one user for ever."""
        device = await db_session.get(Device, data.device_id)
        if device is not None and device.user_id != principal.user_id:
            raise DeviceOwnedByAnotherUser(
                "这台设备已登记在另一名用户名下", device_id=str(data.device_id)
            )
        if device is None:
            device = Device(
                id=data.device_id,
                user_id=principal.user_id,
                name=data.name,
                last_seen_at=ctx.clock.now(),
            )
            db_session.add(device)
            await db_session.flush()
        state = await db_session.get(DeviceSync, device.id)
        return DeviceOut(
            id=device.id,
            user_id=device.user_id,
            name=device.name,
            registered_at=device.created_at,
            last_seq=state.last_seq if state else 0,
        )


class SyncController(Controller):
    path = "/api/v1/sync"
    tags = ["sync"]
    guards = [requires_inspector]

    @post("/push", operation_id="syncPush", status_code=HTTP_200_OK)
    async def push(
        self,
        data: JSONBody[PushEnvelope],
        request: Request[Any, Any, Any],
        principal: Caller,
        ctx: Ctx,
    ) -> PushResponse:
        """Apply this device's pending mutations in order, once each; what cannot apply is stored as rejected.

        The answer comes once the push is durable. Pushes that arrive together are committed
        together (``backend.domain.sync.writer``).
        """
        # each mutation is read from the bytes as they arrived, so a rejected one is kept verbatim
        envelope = msgspec.json.decode(await request.body(), type=PushRequest)
        check_envelope(envelope.protocol_version, envelope.client_id, principal)
        return await ctx.push_writer.push(principal, envelope, request_id_of(request))

    @post("/pull", operation_id="syncPull", status_code=HTTP_200_OK, opt={"read_only": True})
    async def pull(self, data: JSONBody[PullRequest], principal: Caller, ctx: Ctx) -> PullResponse:
        """Everything that changed for me since the cursor, as one snapshot, in pages."""
        check_envelope(data.protocol_version, data.client_id, principal)
        quick = await nothing_new(ctx.engine, principal, data)
        if quick is not None:
            return quick
        async with ctx.session_maker() as session:
            return await PullService(session, ctx.clock).pull(principal, data)

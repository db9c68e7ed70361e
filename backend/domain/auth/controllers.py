"""Sign-in (demo source for now), token refresh and sign-out."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.audit.service import Audit
from backend.errors import NotFound
from backend.http.context import AppContext
from backend.http.deps import AuditUnit, Caller, Ctx, DbSession

from .services import AuthService, TokenPair


class LoginRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=256)]
    device_id: uuid.UUID
    """Made by the app once per install and user; a device belongs to one user."""
    device_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "未命名设备"


class RefreshRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


def _service(ctx: AppContext, session: AsyncSession, audit: Audit) -> AuthService:
    return AuthService(
        session,
        signer=ctx.signer,
        clock=ctx.clock,
        access_ttl=ctx.settings.access_token_ttl,
        refresh_ttl=ctx.settings.refresh_token_ttl,
        session_maker=ctx.session_maker,
        audit=audit,
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", operation_id="login", status_code=HTTP_200_OK, exclude_from_auth=True)
    async def login(
        self, data: JSONBody[LoginRequest], ctx: Ctx, db_session: DbSession, audit: AuditUnit
    ) -> TokenPair:
        """Sign in with a demo account (demo mode only) and bind the session to this device."""
        if ctx.login_source is None:
            raise NotFound("演示账号登录仅在演示模式下可用；请通过统一身份认证登录")
        return await _service(ctx, db_session, audit).login(
            ctx.login_source,
            username=data.username,
            password=data.password,
            device_id=data.device_id,
            device_name=data.device_name,
        )

    @post("/refresh", operation_id="refreshTokens", status_code=HTTP_200_OK, exclude_from_auth=True)
    async def refresh(
        self, data: JSONBody[RefreshRequest], ctx: Ctx, db_session: DbSession, audit: AuditUnit
    ) -> TokenPair:
        """Rotate a refresh token; presenting an already rotated one ends the device's session."""
        return await _service(ctx, db_session, audit).refresh(data.refresh_token)

    @post("/logout", operation_id="logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(
        self, ctx: Ctx, db_session: DbSession, audit: AuditUnit, principal: Caller
    ) -> None:
        """End this device's session: its refresh tokens and access tokens stop working."""
        await _service(ctx, db_session, audit).logout(principal.device_id)

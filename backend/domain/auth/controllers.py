"""Sign-in (the platform's single sign-on; demo accounts in demo mode), token refresh, sign-out."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.errors import InvalidCredentials, NotFound
from backend.http.context import AppContext
from backend.http.deps import AuditUnit, Caller, Ctx, DbSession

from .oidc_client import SsoError
from .services import AuthService, TokenPair
from .sso import COOKIE, COOKIE_PATH, STATE_LIFETIME, SsoService


class LoginRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=256)]
    device_id: uuid.UUID
    """Made by the app once per install and user; a device belongs to one user."""
    device_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "未命名设备"


class RefreshRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class SsoRedeemRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    """The one-time login code the sign-in's callback handed to the app."""
    device_id: uuid.UUID
    device_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "未命名设备"


class AuthMethods(msgspec.Struct, kw_only=True):
    sso: bool
    """Sign-in through the main platform's single sign-on (``/api/v1/auth/sso/start``)."""
    demo: bool
    """The demo accounts (``/api/v1/auth/login``), in demo mode only."""


APP_SSO_ROUTE = "/#/sso?"
"""Where the app picks up the end of a single sign-on (a login code or an error)."""


def _sso(ctx: AppContext) -> SsoService:
    if ctx.sso is None:
        raise NotFound("本系统未配置统一身份认证")
    return ctx.sso


def _redirect_uri(ctx: AppContext, request: Request[Any, Any, Any]) -> str:
    configured = ctx.settings.sso_redirect_uri
    if configured:
        return configured
    return f"{request.url.scheme}://{request.url.netloc}{COOKIE_PATH}/callback"


def _back_to_app(**params: str) -> Redirect:
    return Redirect(APP_SSO_ROUTE + urlencode(params), status_code=303)


def _sso_failed(audit: Audit, error: SsoError, step: str) -> None:
    audit.record_after_response(
        AuditAction.LOGIN_FAILED,
        subject_kind="sso",
        subject_id=step,
        reason=error.reason[:500],
        details={"source": "sso", "step": step},
    )


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

    @get("/methods", operation_id="authMethods", exclude_from_auth=True, sync_to_thread=False)
    def methods(self, ctx: Ctx) -> AuthMethods:
        """How one can sign in here."""
        return AuthMethods(sso=ctx.sso is not None, demo=ctx.login_source is not None)

    @get("/sso/start", operation_id="ssoStart", exclude_from_auth=True, status_code=303)
    async def sso_start(
        self, request: Request[Any, Any, Any], ctx: Ctx, audit: AuditUnit
    ) -> Redirect:
        """Begin a sign-in through the platform's single sign-on: the browser is sent to the
        platform's login page (code flow with PKCE, state and nonce)."""
        sso = _sso(ctx)
        try:
            started = await sso.start(_redirect_uri(ctx, request))
        except SsoError as error:
            _sso_failed(audit, error, "start")
            return _back_to_app(error=error.message)
        response = Redirect(started.authorization_url, status_code=303)
        response.set_cookie(
            COOKIE,
            started.browser_secret,
            path=COOKIE_PATH,
            max_age=int(STATE_LIFETIME.total_seconds()),
            httponly=True,
            # behind a TLS-terminating proxy the backend may see http: the callback's scheme counts
            secure=request.url.scheme == "https"
            or _redirect_uri(ctx, request).startswith("https://"),
            samesite="lax",  # sent on the platform's redirect back (a top-level GET)
        )
        return response

    @get("/sso/callback", operation_id="ssoCallback", exclude_from_auth=True, status_code=303)
    async def sso_callback(
        self, request: Request[Any, Any, Any], ctx: Ctx, audit: AuditUnit
    ) -> Redirect:
        """Where the platform sends the browser back: the code is traded and the ID token checked
        here; the app gets a one-time login code (or the reason it cannot sign in)."""
        sso = _sso(ctx)
        query = request.query_params
        try:
            called = await sso.callback(
                state=str(query.get("state") or "")[:512],
                code=str(query.get("code") or "")[:2048],
                error=str(query.get("error") or ""),
                browser_secret=request.cookies.get(COOKIE),
                redirect_uri=_redirect_uri(ctx, request),
                issuer=query.get("iss"),
            )
        except SsoError as error:
            _sso_failed(audit, error, "callback")
            return _back_to_app(error=error.message)
        return _back_to_app(code=called.login_code, user=called.username)

    @post("/sso/redeem", operation_id="ssoRedeem", status_code=HTTP_200_OK, exclude_from_auth=True)
    async def sso_redeem(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SsoRedeemRequest],
        ctx: Ctx,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> Response[TokenPair]:
        """Trade the one-time login code for this device's session (from the browser that signed in)."""
        sso = _sso(ctx)
        try:
            user = await sso.redeem(db_session, data.code, request.cookies.get(COOKIE))
        except SsoError as error:
            _sso_failed(audit, error, "redeem")
            raise InvalidCredentials(error.message) from None
        pair = await _service(ctx, db_session, audit).sign_in(
            user, source="sso", device_id=data.device_id, device_name=data.device_name
        )
        response = Response(pair)
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response

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

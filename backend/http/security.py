"""Authentication middleware, request ids and the role guards."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import bindparam, select

from backend.db.engine import write_intent
from backend.db.models import Device, Role, User
from backend.db.sqlite_driver import reads_in_place
from backend.domain.auth.principal import Principal
from backend.errors import DeviceRevoked, InvalidToken, PermissionDenied

from .context import AppContext

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def _request_id_from(scope: Scope) -> str:
    """The server's own id, after the caller's ``X-Request-ID`` when it is sane (``caller.server``).

    The server part makes every id unique, so no caller can make its requests pass for
    another's in the audit trail, while the caller's part still finds the request in its logs.
    """
    given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
    own = uuid.uuid4().hex[:16]
    return f"{given}.{own}" if _CLIENT_REQUEST_ID.match(given) else own


def request_id_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The request's id; set by the middleware, or here for requests that matched no route."""
    state = connection.scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = _request_id_from(connection.scope)
    return str(state["request_id"])


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (the caller's ``X-Request-ID`` when it is sane) and echo it back."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def write_intent_middleware(app: ASGIApp) -> ASGIApp:
    """Requests with an unsafe method begin their transactions as writers (see ``backend.db.engine``),
    except handlers marked ``opt={"read_only": True}`` (a pull is a POST that only reads)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        read_only = handler is not None and handler.opt.get("read_only", False)
        if (
            scope["type"] == ScopeType.HTTP
            and scope["method"] not in _SAFE_METHODS
            and not read_only
        ):
            with write_intent():
                await app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


_DEVICE_SESSION = (
    select(Device.revoked_at, Device.session_generation, User.active, User.role)
    .join(User, User.id == Device.user_id)
    .where(Device.id == bindparam("device_id"), Device.user_id == bindparam("user_id"))
)
"""Built once: every authenticated request runs it, and building it (and its cache key) cost
more than running it."""


class BearerAuthentication(AbstractAuthenticationMiddleware):
    """Verifies the access token, then that its device session is still live."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        ctx: AppContext = connection.app.state.ctx
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise InvalidToken("需要登录（缺少 Bearer 访问令牌）")
        claims = ctx.signer.verify(token.strip(), now=ctx.clock.now())
        with reads_in_place():
            async with ctx.engine.connect() as conn:
                row = (
                    await conn.execute(
                        _DEVICE_SESSION, {"device_id": claims.device_id, "user_id": claims.user_id}
                    )
                ).first()
        if row is None:
            raise InvalidToken("访问令牌对应的设备不存在")
        revoked_at, generation, active, role = row
        if revoked_at is not None:
            raise DeviceRevoked("该设备已被吊销", device_id=str(claims.device_id))
        if generation != claims.generation or not active:
            raise InvalidToken("会话已结束，请重新登录")
        principal = Principal(user_id=claims.user_id, device_id=claims.device_id, role=role)
        return AuthenticationResult(user=principal, auth=claims)


def requires_role(*roles: Role) -> Any:
    # a coroutine: Litestar runs a plain function guard on a worker thread, a thread round
    # trip on every guarded request for a check that only reads the caller
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.user
        if not isinstance(principal, Principal) or principal.role not in roles:
            raise PermissionDenied(
                "您的角色无权执行此操作", required_roles=[r.value for r in roles]
            )

    return guard


requires_inspector = requires_role(Role.INSPECTOR, Role.TEAM_LEAD)
requires_team_lead = requires_role(Role.TEAM_LEAD)
requires_operator = requires_role(Role.OPERATOR)

"""``create_platform_app(settings)``: the reference platform's app — its OpenID Connect issuer
here, its API for the backend's connector in ``api``, and the demo's and tests' controls in
``controls``."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import jwt
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

from backend.clock import Clock, SystemClock

from .api import api_router
from .api_auth import ApiAuth
from .controls import control_router
from .faults import FaultSwitch
from .feed import TaskFeed
from .identities import DEMO_USERNAMES, Client, Directory
from .intake import Intake
from .keys import KeyRing
from .oidc import CLIENT_CREDENTIALS, TOKEN_EXCHANGE, Issuer, OAuthError
from .pages import PASSED_ON, error_page, login_page

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
NO_STORE = CacheControlHeader(no_store=True)


@dataclass(frozen=True, slots=True)
class PlatformSettings:
    """The reference platform's settings (it has no database: a stand-in that starts fresh)."""

    issuer: str = "http://127.0.0.1:8100"
    """The platform's own external URL: the ``iss`` of its tokens."""
    backend_client_id: str = "zsjg-backend"
    backend_client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    backend_redirect_uris: tuple[str, ...] = ("http://127.0.0.1:8000/api/v1/auth/sso/callback",)
    backend_jwks: dict[str, Any] | None = None
    """The backend's registered public keys (a JWKS): they verify its subject tokens for token exchange."""
    people: tuple[str, ...] = tuple(DEMO_USERNAMES)
    """The user names the platform knows (its directory); the demo's people by default."""
    demo_password: str = "zsjg-demo"  # noqa: S105 - the demo identities share the demo password
    controls: bool = True
    """The fault, task and key controls under ``/control`` (the demo and the tests use them)."""
    control_token: str | None = None
    """When set, every ``/control`` request needs ``Authorization: Bearer <control_token>``."""
    seed: int = 0
    """Seeds the random draws of the ``error_rate`` fault (reseeded at every fault set)."""
    publish_delay: timedelta = timedelta(0)
    """How long after it is received a record counts as published (on the platform's clock)."""
    tasks: tuple[dict[str, Any], ...] = ()
    """The feed's first tasks: task objects (docs/platform-api.md) each with its ``task_ref``."""


def _html(body: str, status: int = 200) -> Response[str]:
    return Response(
        body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


def _oauth_error(error: OAuthError) -> Response[dict[str, str]]:
    headers = {"Cache-Control": "no-store"}
    if error.code == "invalid_client":
        headers["WWW-Authenticate"] = 'Basic realm="platform"'
    return Response(
        {"error": error.code, "error_description": error.description},
        status_code=error.status,
        headers=headers,
    )


def _back_to_client(redirect_uri: str, **params: str) -> Redirect:
    joiner = "&" if "?" in redirect_uri else "?"
    return Redirect(
        redirect_uri + joiner + urlencode({k: v for k, v in params.items() if v}), status_code=303
    )


def _client_credentials(request: Request[Any, Any, Any], form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "malformed Basic credentials", 401) from exc
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def create_platform_app(
    settings: PlatformSettings | None = None, *, clock: Clock | None = None
) -> Litestar:
    settings = settings or PlatformSettings()
    clock = clock or SystemClock()
    directory = Directory(list(settings.people), settings.demo_password)
    client = Client(
        settings.backend_client_id,
        settings.backend_client_secret,
        frozenset(settings.backend_redirect_uris),
        jwt.PyJWKSet.from_dict(settings.backend_jwks) if settings.backend_jwks else None,
    )
    issuer = Issuer(
        settings.issuer,
        KeyRing(),
        {client.client_id: client},
        clock,
        directory.subjects,
    )

    @get("/.well-known/openid-configuration", sync_to_thread=False)
    def discovery() -> dict[str, Any]:
        """OpenID Connect discovery."""
        return issuer.discovery()

    @get("/oidc/jwks", sync_to_thread=False, cache_control=CacheControlHeader(max_age=300))
    def jwks() -> dict[str, Any]:
        """The public signing keys (the current one and the one before a rotation)."""
        return issuer.keys.jwks()

    @get("/oidc/authorize", sync_to_thread=False)
    def authorize(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
        """The login page of an authorization request (code flow, PKCE S256)."""
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        try:
            issuer.client_for(params.get("client_id", ""), params.get("redirect_uri", ""))
        except OAuthError as error:
            return _html(error_page(f"登录请求无效：{error.description}"), 400)
        try:
            issuer.check_request(params)
        except OAuthError as error:
            return _back_to_client(
                params["redirect_uri"],
                error=error.code,
                error_description=error.description,
                state=params.get("state", ""),
            )
        return _html(login_page(params))

    @post("/oidc/authorize", sync_to_thread=False, status_code=303)
    def sign_in(data: Form) -> Response[str] | Redirect:
        """The login form: on the right credentials, back to the client with a code."""
        params = {k: v for k, v in data.items() if k in PASSED_ON}
        try:
            issuer.client_for(params.get("client_id", ""), params.get("redirect_uri", ""))
            issuer.check_request(params)
        except OAuthError as error:
            return _html(error_page(f"登录请求无效：{error.description}"), 400)
        identity = directory.check(data.get("username", ""), data.get("password", ""))
        if identity is None:
            return _html(login_page(params, "账号或密码错误", data.get("username", "")), 401)
        code = issuer.grant(params, identity)
        return _back_to_client(params["redirect_uri"], code=code, state=params.get("state", ""))

    @post("/oidc/token", sync_to_thread=False, status_code=200)
    def token(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """The token endpoint: an authorization code (with its PKCE verifier), the client's own
        credentials, or a token exchange."""
        try:
            client_id, secret = _client_credentials(request, data)
            known = issuer.clients.get(client_id)
            if known is None or not known.authenticates(secret):
                raise OAuthError("invalid_client", "client authentication failed", 401)
            grant_type = data.get("grant_type")
            if grant_type == "authorization_code":
                tokens = issuer.exchange_code(known, data)
            elif grant_type == CLIENT_CREDENTIALS:
                tokens = issuer.client_token(known, data)
            elif grant_type == TOKEN_EXCHANGE:
                tokens = issuer.exchange_token(known, data)
            else:
                raise OAuthError(
                    "unsupported_grant_type",
                    "authorization_code, client_credentials or token exchange",
                )
            return Response(tokens, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
        except OAuthError as error:
            return _oauth_error(error)

    faults = FaultSwitch(clock, settings.seed)
    intake = Intake(clock, settings.publish_delay)
    feed = TaskFeed(settings.tasks)
    auth = ApiAuth(
        issuer=issuer.issuer,
        keys=issuer.keys,
        clients=issuer.clients.keys(),
        people=directory.subjects,
        clock=clock,
    )
    handlers: list[Any] = [discovery, jwks, authorize, sign_in, token]
    handlers.append(api_router(auth=auth, intake=intake, feed=feed, faults=faults))
    if settings.controls:
        handlers.append(
            control_router(
                control_token=settings.control_token,
                keys=issuer.keys,
                faults=faults,
                intake=intake,
                feed=feed,
            )
        )
    return Litestar(route_handlers=handlers, debug=False)

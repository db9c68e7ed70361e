"""Sign-in through the platform's single sign-on: the backend is the confidential client of the
reference platform (reached in-process through its ASGI app), the browser only ever holds a
one-time login code and then the backend's own device-bound session."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.clock import FixedClock
from backend.db.models import AuditEvent, SsoLogin, User
from backend.platform import PlatformSettings, create_platform_app
from backend.platform.identities import subject_of
from backend.settings import Settings
from tests.world import PASSWORD, World, build_world

pytestmark = pytest.mark.anyio
ISSUER = "http://platform.test"
BACKEND = "http://127.0.0.1:8000"
CALLBACK = f"{BACKEND}/api/v1/auth/sso/callback"
SECRET = "backend-client-secret"
PEOPLE = ("amr_a", "amr_b", "amr_c", "lead1", "stranger")


@dataclass
class Sso:
    backend: AsyncTestClient[Litestar]
    platform: httpx.AsyncClient
    world: World
    session_maker: async_sessionmaker[AsyncSession]
    clock: FixedClock

    async def start(self, backend: httpx.AsyncClient | None = None) -> str:
        r = await (backend or self.backend).get("/api/v1/auth/sso/start", follow_redirects=False)
        assert r.status_code == 303, r.text
        return r.headers["location"]

    async def sign_in_at_platform(self, authorization_url: str, username: str = "amr_a") -> str:
        """The person's part at the platform: the login page, then the form. Answers the callback URL."""
        page = await self.platform.get(authorization_url)
        assert page.status_code == 200, page.text
        params = {k: v[0] for k, v in parse_qs(urlparse(authorization_url).query).items()}
        r = await self.platform.post(
            "/oidc/authorize", data={**params, "username": username, "password": PASSWORD}
        )
        assert r.status_code == 303, r.text
        return r.headers["location"]

    async def call_back(
        self, callback_url: str, backend: httpx.AsyncClient | None = None
    ) -> dict[str, str]:
        parsed = urlparse(callback_url)
        r = await (backend or self.backend).get(
            f"{parsed.path}?{parsed.query}", follow_redirects=False
        )
        assert r.status_code == 303, r.text
        location = r.headers["location"]
        assert location.startswith("/#/sso?"), location
        return {k: v[0] for k, v in parse_qs(location.split("?", 1)[1]).items()}

    async def redeem(
        self, code: str, device: uuid.UUID, backend: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        return await (backend or self.backend).post(
            "/api/v1/auth/sso/redeem",
            json={"code": code, "device_id": str(device), "device_name": "测试手机"},
        )

    @contextlib.asynccontextmanager
    async def other_browser(self) -> AsyncIterator[AsyncTestClient[Litestar]]:
        """A second browser on the same running backend: the same client with a cookie jar of
        its own meanwhile (a second client would serve the app on another event loop, which
        PostgreSQL connections do not survive)."""
        own = self.backend.cookies
        self.backend.cookies = httpx.Cookies()
        try:
            yield self.backend
        finally:
            self.backend.cookies = own

    async def full(self, username: str = "amr_a") -> dict[str, str]:
        return await self.call_back(await self.sign_in_at_platform(await self.start(), username))

    async def audit_actions(self) -> list[tuple[str, str | None]]:
        async with self.session_maker() as session:
            rows = await session.execute(
                select(AuditEvent.action, AuditEvent.reason).order_by(AuditEvent.seq)
            )
            return [(a, r) for a, r in rows.all()]


def _settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        generate_signing_key=True,
        sso_issuer=ISSUER,
        sso_client_secret=SECRET,
        **extra,
    )


@pytest.fixture
async def sso(
    database_url: str,
    tmp_path: Path,
    clock: FixedClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Sso]:
    world = await build_world(session_maker, clock)
    async with session_maker() as session, session.begin():
        for name in PEOPLE[:-1]:  # "stranger" is known to the platform only
            await session.execute(
                update(User).where(User.username == name).values(platform_subject=subject_of(name))
            )
    platform_app = create_platform_app(
        PlatformSettings(
            issuer=ISSUER,
            backend_client_secret=SECRET,
            backend_redirect_uris=(CALLBACK,),
            people=PEOPLE,
        ),
        clock=clock,
    )
    app = create_app(
        _settings(database_url, tmp_path),
        clock=clock,
        sso_transport=httpx.ASGITransport(app=platform_app),
    )
    async with (
        AsyncTestClient(app=app, base_url=BACKEND) as backend,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=platform_app), base_url=ISSUER
        ) as platform,
    ):
        yield Sso(backend, platform, world, session_maker, clock)


async def test_a_person_signs_in_through_the_platform_and_gets_a_device_session(sso: Sso) -> None:
    methods = (await sso.backend.get("/api/v1/auth/methods")).json()
    assert methods == {"sso": True, "demo": False}
    authorization_url = await sso.start()
    query = parse_qs(urlparse(authorization_url).query)
    assert authorization_url.startswith(f"{ISSUER}/oidc/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [CALLBACK]
    assert len(query["state"][0]) >= 43 and len(query["nonce"][0]) >= 43
    back = await sso.call_back(await sso.sign_in_at_platform(authorization_url))
    assert back["user"] == "amr_a" and "error" not in back
    device = uuid.uuid4()
    r = await sso.redeem(back["code"], device)
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["username"] == "amr_a" and pair["device_id"] == str(device)
    assert "id_token" not in r.text and "zsjg_sso=" in r.headers.get("set-cookie", "")
    me = await sso.backend.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["username"] == "amr_a"
    renewed = await sso.backend.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert renewed.status_code == 200
    assert ("login", None) in await sso.audit_actions()
    async with sso.session_maker() as session:
        login = await session.scalar(select(SsoLogin))
        assert login is not None and login.redeemed_at is not None
        assert login.nonce is None and login.code_verifier is None  # nothing secret is kept


async def test_the_login_code_is_single_use_short_lived_and_bound_to_the_browser(
    sso: Sso,
) -> None:
    back = await sso.full()
    async with sso.other_browser() as other_browser:
        stolen = await sso.redeem(back["code"], uuid.uuid4(), other_browser)
    assert stolen.status_code == 401
    assert (await sso.redeem(back["code"], uuid.uuid4())).status_code == 200
    again = await sso.redeem(back["code"], uuid.uuid4())
    assert again.status_code == 401 and "已使用" in again.json()["detail"]

    late = await sso.full()
    sso.clock.advance(timedelta(minutes=3))
    r = await sso.redeem(late["code"], uuid.uuid4())
    assert r.status_code == 401 and "超时" in r.json()["detail"]
    assert (await sso.redeem("not-a-code", uuid.uuid4())).status_code == 401


async def test_a_wrong_or_replayed_state_fails_and_nothing_is_signed_in(sso: Sso) -> None:
    callback = await sso.sign_in_at_platform(await sso.start())
    forged = callback.replace("state=", "state=x")
    assert "error" in await sso.call_back(forged)
    assert "error" in await sso.call_back(callback.split("&state=")[0].split("?state=")[0])
    ok = await sso.call_back(callback)
    assert "code" in ok
    replayed = await sso.call_back(callback)
    assert "已使用" in replayed["error"]
    failed = [r for a, r in await sso.audit_actions() if a == "login_failed"]
    assert len(failed) == 3 and any("used already" in (r or "") for r in failed)


async def test_a_callback_in_another_browser_fails_and_burns_the_state(sso: Sso) -> None:
    """Login CSRF: the victim's browser is sent a callback of the attacker's own sign-in."""
    callback = await sso.sign_in_at_platform(await sso.start())
    async with sso.other_browser() as victim:
        answer = await sso.call_back(callback, victim)
    assert "不是从这台设备发起" in answer["error"]
    assert "error" in await sso.call_back(callback)  # the state is gone for its own browser too


async def test_a_wrong_nonce_fails(sso: Sso) -> None:
    """The code was issued for a request with another nonce (same state and PKCE challenge)."""
    authorization_url = await sso.start()
    parsed = urlparse(authorization_url)
    params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    params["nonce"] = "an-attacker-chosen-nonce"
    callback = await sso.sign_in_at_platform(f"{ISSUER}/oidc/authorize?{urlencode(params)}")
    answer = await sso.call_back(callback)
    assert "error" in answer and "code" not in answer
    failed = [r for a, r in await sso.audit_actions() if a == "login_failed"]
    assert failed and "nonce" in (failed[-1] or "")


async def test_a_code_from_another_sign_in_fails_pkce(sso: Sso) -> None:
    first = await sso.start()
    second = await sso.start()
    code = parse_qs(urlparse(await sso.sign_in_at_platform(second)).query)["code"][0]
    state = parse_qs(urlparse(first).query)["state"][0]
    answer = await sso.call_back(f"{CALLBACK}?{urlencode({'code': code, 'state': state})}")
    assert "error" in answer


async def test_the_platform_refusing_or_an_unknown_person_gives_a_clear_reason(sso: Sso) -> None:
    state = parse_qs(urlparse(await sso.start()).query)["state"][0]
    denied = await sso.call_back(
        f"{CALLBACK}?{urlencode({'error': 'access_denied', 'state': state})}"
    )
    assert denied["error"] == "已取消统一身份认证登录"
    stranger = await sso.full("stranger")
    assert "尚未关联" in stranger["error"]


async def test_an_unreachable_platform_sends_the_person_back_with_a_reason(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app = create_app(
        _settings(database_url, tmp_path), clock=clock, sso_transport=httpx.MockTransport(refuse)
    )
    async with AsyncTestClient(app=app, base_url=BACKEND) as backend:
        r = await backend.get("/api/v1/auth/sso/start", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/#/sso?error=")
    assert "zsjg_sso" not in r.headers.get("set-cookie", "")


async def test_without_an_issuer_there_is_no_sso(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/api/v1/auth/methods")).json() == {"sso": False, "demo": True}
    assert (await client.get("/api/v1/auth/sso/start")).status_code == 404
    r = await client.post(
        "/api/v1/auth/sso/redeem", json={"code": "x", "device_id": str(uuid.uuid4())}
    )
    assert r.status_code == 404


async def test_a_callback_naming_another_issuer_is_refused(sso: Sso) -> None:
    """RFC 9207: the authorization response's iss guards against a mix-up with another issuer."""
    callback = await sso.sign_in_at_platform(await sso.start())
    answer = await sso.call_back(f"{callback}&iss={'https://evil.example'}")
    assert "error" in answer and "code" not in answer

"""The backend's single sign-on against an independent OpenID provider: panva's oidc-provider
(npm), on a loopback port, with its own login and consent pages — the same code path as with the
reference platform, with nothing about the provider configured but its issuer URL."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.clock import SystemClock
from backend.db.models import User
from backend.settings import Settings
from tests.world import build_world

pytestmark = pytest.mark.anyio
PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
BACKEND = "http://127.0.0.1:8000"
CALLBACK = f"{BACKEND}/api/v1/auth/sso/callback"
SECRET = "independent-provider-secret"


@pytest.fixture
def provider() -> Iterator[str]:
    """oidc-provider in a Node process of its own; its issuer URL."""
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("oidc-provider is not installed: scripts/install.sh runs npm ci for it")
    with subprocess.Popen(
        [node, "server.mjs"],
        cwd=PROVIDER_DIR,
        env={"PATH": "/usr/bin:/bin", "REDIRECT_URI": CALLBACK, "CLIENT_SECRET": SECRET},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 30)
            assert ready, "oidc-provider did not start within 30 s"
            line = process.stdout.readline()  # the server prints its issuer once it listens
            assert line, "oidc-provider did not start"
            yield json.loads(line)["issuer"]
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
async def backend(
    provider: str,
    database_url: str,
    tmp_path: Path,
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    clock = SystemClock()  # the provider's tokens carry the real time
    await build_world(session_maker, clock)
    async with session_maker() as session, session.begin():
        await session.execute(
            update(User).where(User.username == "amr_a").values(platform_subject="amr_a@provider")
        )
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        generate_signing_key=True,
        sso_issuer=provider,
        sso_client_secret=SECRET,
    )
    async with AsyncTestClient(app=create_app(settings, clock=clock), base_url=BACKEND) as client:
        yield client


async def _through_the_provider(
    backend: AsyncTestClient[Litestar], browser: httpx.AsyncClient, account: str
) -> dict[str, str]:
    """The person's way: the backend's start, the provider's login and consent pages, and back."""
    r = await backend.get("/api/v1/auth/sso/start", follow_redirects=False)
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    pages = 0
    while not url.startswith(CALLBACK):
        pages += 1
        assert pages < 12, f"the provider never sent the browser back ({url})"
        r = await browser.get(url)
        if r.status_code in (302, 303):
            url = urljoin(url, r.headers["location"])
            continue
        assert r.status_code == 200, r.text
        form = {"prompt": "consent"} if 'value="consent"' in r.text else {"prompt": "login"}
        if form["prompt"] == "login":
            form |= {"login": account, "password": "any"}
        r = await browser.post(url, data=form)
        assert r.status_code in (302, 303), r.text
        url = urljoin(url, r.headers["location"])
    assert parse_qs(urlparse(url).query).get("iss"), "oidc-provider names itself (RFC 9207)"
    parsed = urlparse(url)
    r = await backend.get(f"{parsed.path}?{parsed.query}", follow_redirects=False)
    assert r.status_code == 303, r.text
    return {k: v[0] for k, v in parse_qs(r.headers["location"].split("?", 1)[1]).items()}


async def test_sign_in_through_an_independent_openid_provider(
    backend: AsyncTestClient[Litestar],
) -> None:
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await _through_the_provider(backend, browser, "amr_a@provider")
    assert back.get("user") == "amr_a", back
    device = uuid.uuid4()
    r = await backend.post(
        "/api/v1/auth/sso/redeem", json={"code": back["code"], "device_id": str(device)}
    )
    assert r.status_code == 200, r.text
    me = await backend.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["username"] == "amr_a"


async def test_an_account_the_backend_does_not_know_is_refused(
    backend: AsyncTestClient[Litestar],
) -> None:
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await _through_the_provider(backend, browser, "somebody-else")
    assert "尚未关联" in back["error"]

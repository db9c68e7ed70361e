"""The browser tests: the demo world served by uvicorn on 127.0.0.1 with the built PWA, and
Debian's Chromium driven by Playwright at a phone's size (390×844)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from litestar.types import ASGIApp
from playwright.async_api import Browser, BrowserContext, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.bench_pwa import CHROMIUM, FLAGS
from backend.clock import SystemClock
from backend.db.engine import create_engine
from backend.db.models import Device, MutationLogEntry, User
from backend.demo.seed import seed_if_empty
from backend.domain.auth.tokens import TokenSigner
from backend.platform import PlatformSettings, create_platform_app
from backend.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "pwa" / "dist"
SCREENSHOTS = Path(os.environ.get("ZSJG_SCREENSHOT_DIR", REPO / "pwa" / "screenshots"))
PHONE = {"width": 390, "height": 844}
YUDU = {"latitude": 25.951774, "longitude": 115.411926, "accuracy": 12}


@dataclass
class World:
    base: str
    settings: Settings
    db: async_sessionmaker[AsyncSession]

    async def logged(self, username: str) -> list[MutationLogEntry]:
        """The mutation log of every device of this user."""
        async with self.db() as session:
            user = (await session.scalars(select(User).where(User.username == username))).one()
            devices = select(Device.id).where(Device.user_id == user.id)
            return list(
                (
                    await session.scalars(
                        select(MutationLogEntry)
                        .where(MutationLogEntry.device_id.in_(devices))
                        .order_by(MutationLogEntry.device_id, MutationLogEntry.seq)
                    )
                ).all()
            )


@pytest.fixture
def pwa_dist() -> Path:
    """The build the server serves (a test may serve a copy it changes)."""
    if not (DIST / "index.html").is_file():
        pytest.fail("the PWA is not built: run `npm run build` in pwa/ (scripts/test.sh does)")
    return DIST


@pytest.fixture
async def world(database_url: str, tmp_path: Path, pwa_dist: Path) -> AsyncIterator[World]:
    """The demo data (seeded with the real clock: the browser's clock is the real one) served."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        demo_mode=True,
        generate_signing_key=True,
        pwa_dir=pwa_dist,
    )
    await seed_if_empty(settings, SystemClock())
    engine = create_engine(settings.effective_database_url)
    with _Served(create_app(settings)) as base:
        try:
            yield World(base, settings, async_sessionmaker(engine, expire_on_commit=False))
        finally:
            await engine.dispose()


@pytest.fixture
async def sso_world(database_url: str, tmp_path: Path, pwa_dist: Path) -> AsyncIterator[World]:
    """The demo data served with single sign-on only (no demo login), beside the reference
    platform on a loopback port of its own."""
    backend_socket, platform_socket = _loopback_socket(), _loopback_socket()
    backend = f"http://127.0.0.1:{backend_socket.getsockname()[1]}"
    issuer = f"http://127.0.0.1:{platform_socket.getsockname()[1]}"
    signer = TokenSigner.from_file(
        tmp_path / "keys" / "signing.pem", generate=True, issuer="zsjg", audience="zsjg-api"
    )
    platform = create_platform_app(
        PlatformSettings(
            issuer=issuer,
            backend_client_secret="browser-test-secret",  # noqa: S106 - a test's own secret
            backend_redirect_uris=(f"{backend}/api/v1/auth/sso/callback",),
            backend_jwks={"keys": [signer.public_jwk()]},  # the worker's token exchange
        )
    )
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        generate_signing_key=True,
        pwa_dir=pwa_dist,
        sso_issuer=issuer,
        sso_client_secret="browser-test-secret",  # noqa: S106 - a test's own secret
    )
    await seed_if_empty(settings, SystemClock())
    engine = create_engine(settings.effective_database_url)
    with _Served(platform, platform_socket), _Served(create_app(settings), backend_socket):
        try:
            yield World(backend, settings, async_sessionmaker(engine, expire_on_commit=False))
        finally:
            await engine.dispose()


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class _Served:
    """An app served by uvicorn in a thread, on port 0 or on a socket bound beforehand."""

    def __init__(self, app: ASGIApp, sock: socket.socket | None = None) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.sock = sock
        kwargs = {"sockets": [sock]} if sock is not None else {}
        self.thread = threading.Thread(target=self.server.run, kwargs=kwargs, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert self.thread.is_alive(), "the server stopped while starting"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        if self.sock is not None:
            self.sock.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - one stat before the browser starts
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (scripts/install.sh installs it)")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, timeout=60_000)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def screenshots() -> Iterator[Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


async def phone(browser: Browser) -> BrowserContext:
    """A fresh phone: its own storage, a GPS fix in 于都, Chinese locale and Beijing time."""
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["geolocation"],
        geolocation=YUDU,
        service_workers="allow",
    )
    context.set_default_timeout(20_000)
    return context

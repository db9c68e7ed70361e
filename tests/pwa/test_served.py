"""The backend serves the built PWA at ``/`` (a small fake build here; the real one in the browser tests)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.clock import FixedClock
from backend.settings import Settings

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "icons").mkdir()
    (root / "index.html").write_text("<!doctype html><title>掌上监管</title>", "utf-8")
    (root / "sw.js").write_text("self.addEventListener('fetch', () => {});", "utf-8")
    (root / "manifest.webmanifest").write_text('{"name": "掌上监管"}', "utf-8")
    (root / "assets" / "index-abc123.js").write_text("console.log(1)", "utf-8")
    (root / "icons" / "icon-192.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "secret.txt").write_text("not for the web", "utf-8")
    return root


@pytest.fixture
async def served(
    settings: Settings, clock: FixedClock, dist: Path
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(msgspec.structs.replace(settings, pwa_dir=dist), clock=clock)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        yield client


async def test_the_app_shell_is_served_without_sign_in_and_revalidated(
    served: AsyncTestClient[Litestar],
) -> None:
    r = await served.get("/")
    assert r.status_code == 200
    assert "掌上监管" in r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "no-cache" in r.headers["cache-control"]


async def test_the_service_worker_and_manifest_are_served_for_the_whole_origin(
    served: AsyncTestClient[Litestar],
) -> None:
    sw = await served.get("/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/"
    assert "no-cache" in sw.headers["cache-control"]
    shell = await served.get("/index.html")  # precached by the service worker
    assert shell.status_code == 200
    assert "no-cache" in shell.headers["cache-control"]
    manifest = await served.get("/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")


async def test_hashed_assets_are_cached_for_a_year(served: AsyncTestClient[Litestar]) -> None:
    r = await served.get("/assets/index-abc123.js")
    assert r.status_code == 200
    assert "max-age=31536000" in r.headers["cache-control"]
    assert (await served.get("/icons/icon-192.png")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/index.html.bak",
    ],
)
async def test_nothing_outside_the_build_is_served(
    served: AsyncTestClient[Litestar], path: str
) -> None:
    r = await served.get(path)
    assert r.status_code == 404
    assert "not for the web" not in r.text


async def test_the_api_still_needs_a_token(served: AsyncTestClient[Litestar]) -> None:
    assert (await served.get("/api/v1/me")).status_code == 401


async def test_a_missing_build_says_how_to_make_it(settings: Settings, tmp_path: Path) -> None:
    app = create_app(msgspec.structs.replace(settings, pwa_dir=tmp_path / "nothing"))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        r = await client.get("/")
    assert r.status_code == 503
    assert "scripts/demo.sh" in r.text


async def test_the_committed_openapi_document_is_current(app: Litestar) -> None:
    """The PWA's API client is generated from pwa/src/api/openapi.json: it must match the app."""
    committed = json.loads((REPO / "pwa" / "src" / "api" / "openapi.json").read_text("utf-8"))
    assert app.openapi_schema is not None
    current = json.loads(json.dumps(app.openapi_schema.to_schema()))
    assert committed == current, (
        "the API changed: run `npm run api` in pwa/ and commit src/api/openapi.json and schema.d.ts"
    )

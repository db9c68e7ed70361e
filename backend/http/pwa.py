"""The inspectors' app: the built PWA (``pwa/dist``) served at ``/`` on the API's own origin.

The service worker and the page must be revalidated on every start (a new version is found at
once); the hashed assets never change, so they may be cached for a year.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

NOT_BUILT = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>掌上监管</title>
<p>掌上监管的手机端还没有构建：运行 <code>bash scripts/demo.sh</code>（它会构建 <code>pwa/</code>）。</p>"""

_REVALIDATE = CacheControlHeader(no_cache=True)


def pwa_routes(dist: Path) -> list[ControllerRouterHandler]:
    """``/`` and ``/index.html`` (the app shell), ``/sw.js``, ``/manifest.webmanifest``, ``/assets``, ``/icons``."""

    @get(
        "/",
        include_in_schema=False,
        exclude_from_auth=True,
        cache_control=_REVALIDATE,
        sync_to_thread=False,
    )
    def shell() -> Response[str] | File:
        index = dist / "index.html"
        if not index.is_file():
            return Response(NOT_BUILT, media_type="text/html; charset=utf-8", status_code=503)
        return File(index, content_disposition_type="inline", media_type="text/html; charset=utf-8")

    @get(
        "/{name:str}",
        include_in_schema=False,
        exclude_from_auth=True,
        cache_control=_REVALIDATE,
        sync_to_thread=False,
    )
    def top_level(name: FromPath[str]) -> File:
        allowed = {
            "index.html": "text/html; charset=utf-8",  # the service worker precaches the shell
            "sw.js": "text/javascript; charset=utf-8",
            "manifest.webmanifest": "application/manifest+json",
        }
        path = dist / name
        if name not in allowed or not path.is_file():
            raise NotFoundException()
        return File(
            path,
            content_disposition_type="inline",
            media_type=allowed[name],
            headers={"Service-Worker-Allowed": "/"} if name == "sw.js" else None,
        )

    static: list[Router] = [
        create_static_files_router(
            path=f"/{folder}",
            directories=[dist / folder],
            name=f"pwa-{folder}",
            include_in_schema=False,
            opt={"exclude_from_auth": True},
            cache_control=CacheControlHeader(max_age=31_536_000, public=True)
            if folder == "assets"
            else _REVALIDATE,
        )
        for folder in ("assets", "icons")
    ]
    return [shell, top_level, *static]

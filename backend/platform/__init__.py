"""The reference platform: a stand-in for the province's main platform (DESIGN §3).

A separate Litestar app (``create_platform_app``), started by ``zsjg platform``. It is honest
about being a stand-in: the backend talks to it only through the HTTP contract a real platform
offers, configured by URL. It has an OpenID Connect issuer (``oidc``), an API for the backend's
connector — the results intake, publication status and the task feed (``api``; the wire format
is docs/platform-api.md) — and controls for the demo and the tests (``controls``): faults, tasks,
what arrived, key rotation.
"""

from .app import PlatformSettings, create_platform_app

__all__ = ["PlatformSettings", "create_platform_app"]

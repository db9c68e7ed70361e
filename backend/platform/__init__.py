"""The reference platform: a stand-in for the province's main platform (DESIGN §3).

A separate Litestar app (``create_platform_app``), started by ``zsjg platform``. It is honest
about being a stand-in: the backend talks to it only through the HTTP contract a real platform
offers, configured by URL. This part is its OpenID Connect issuer; the task feed, the results
intake and the fault controls come with the rest of the single-sign-on issue.
"""

from .app import PlatformSettings, create_platform_app

__all__ = ["PlatformSettings", "create_platform_app"]

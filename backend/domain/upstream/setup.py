"""Building the connector's worker from the settings (the server and ``zsjg worker`` share it):
the forwarding of results, and the reading of the platform's task feed on the same loop."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import make_url

from backend.http.context import AppContext

from .importer import build_importer
from .platform_client import PlatformClient
from .worker import Forwarder, ForwardingPolicy


def build_forwarder(
    ctx: AppContext, *, transport: httpx.AsyncBaseTransport | None = None
) -> Forwarder | None:
    """The worker, or ``None`` when no platform is configured (nothing to forward to)."""
    settings = ctx.settings
    if not settings.effective_platform_url or not settings.sso_client_secret:
        return None
    client = PlatformClient(
        base_url=settings.effective_platform_url,
        token_url=settings.effective_platform_token_url,
        client_id=settings.sso_client_id,
        client_secret=settings.sso_client_secret,
        signer=lambda: ctx.signer,
        clock=ctx.clock,
        transport=transport,
    )
    forwarder = Forwarder(
        ctx.session_maker,
        client,
        ctx.uploads.store,
        ctx.clock,
        ForwardingPolicy(
            max_attempts=settings.forward_max_attempts,
            backoff_cap=settings.forward_backoff_cap,
            import_every=settings.import_every,
        ),
        postgres=make_url(settings.effective_database_url).get_backend_name() == "postgresql",
    )
    if settings.import_every.total_seconds() > 0:
        forwarder.importer = build_importer(ctx, transport=transport)
    return forwarder

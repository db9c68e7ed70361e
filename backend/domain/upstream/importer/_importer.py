"""A round: ``TaskImporter`` reads the feed page by page, each page applied in one transaction
with its cursor; ``build_importer`` makes it from the app's settings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock
from backend.db.engine import write_intent
from backend.db.models import UpstreamCursor
from backend.domain.audit.service import Actor, Audit
from backend.domain.sync.store import lock_counter

from ._apply import _Apply
from ._feed import FeedClient, FeedError, FeedPage
from ._report import ImportReport

if TYPE_CHECKING:
    from backend.http.context import AppContext

log = logging.getLogger("zsjg.import")

FEED = "tasks"
"""The cursor's name in ``upstream_cursors``."""


class TaskImporter:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        client: FeedClient,
        clock: Clock,
        *,
        page_limit: int = 100,
        max_pages: int = 20,
    ) -> None:
        self._session_maker = session_maker
        self.client = client
        self._clock = clock
        self.page_limit = page_limit
        self.max_pages = max_pages

    async def close(self) -> None:
        await self.client.close()

    async def run_once(self) -> ImportReport:
        """Read the feed from the stored cursor until it has no more (bounded), page by page."""
        report = ImportReport()
        async with self._session_maker() as session:
            stored = await session.scalar(
                select(UpstreamCursor.cursor).where(UpstreamCursor.name == FEED)
            )
        cursor = stored
        for _ in range(self.max_pages):
            try:
                page = await self.client.page(cursor, self.page_limit)
            except FeedError as exc:
                if exc.error == "invalid_cursor" and cursor is not None and not report.restarted:
                    # the platform no longer knows our cursor: read it all again (versions
                    # already taken in are ignored, so nothing is applied twice)
                    log.warning("task feed refused the cursor; reading from the beginning")
                    report.restarted = True
                    cursor = None
                    continue
                report.error, report.status, report.retry_after = (
                    str(exc),
                    exc.status,
                    exc.retry_after,
                )
                log.warning("task feed: %s", exc)
                break
            if not await self._apply_page(stored, page, report):
                break  # another importer took this page in first; the next round goes on from it
            report.pages += 1
            cursor = stored = page.cursor
            if not page.more:
                break
        return report

    async def _apply_page(self, cursor: str | None, page: FeedPage, report: ImportReport) -> bool:
        with write_intent():
            async with self._session_maker() as session, session.begin():
                # the counter first: every importer waits here, so the cursor read next is the
                # one the last importer committed (also on a first run, with no cursor row yet)
                meta = await lock_counter(session)
                stored = await session.get(UpstreamCursor, FEED, with_for_update=True)
                if (stored.cursor if stored is not None else None) != cursor:
                    return False
                audit = Audit(session, self._clock, Actor.system())
                apply = _Apply(session, audit, meta, self._clock, report)
                for raw in page.items:
                    report.items += 1
                    await apply.item(bytes(raw))
                if stored is None:
                    session.add(
                        UpstreamCursor(name=FEED, cursor=page.cursor, updated_at=self._clock.now())
                    )
                else:
                    stored.cursor = page.cursor
                    stored.updated_at = self._clock.now()
        return True


def build_importer(
    ctx: AppContext, *, transport: httpx.AsyncBaseTransport | None = None
) -> TaskImporter | None:
    """The importer, or ``None`` when no platform is configured."""
    settings = ctx.settings
    if not settings.effective_platform_url or not settings.sso_client_secret:
        return None
    client = FeedClient(
        base_url=settings.effective_platform_url,
        token_url=settings.effective_platform_token_url,
        client_id=settings.sso_client_id,
        client_secret=settings.sso_client_secret,
        clock=ctx.clock,
        transport=transport,
    )
    return TaskImporter(ctx.session_maker, client, ctx.clock)

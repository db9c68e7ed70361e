"""Operator actions on the trail: anchor the head outside the database, verify the chain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from backend.clock import Clock
from backend.db.models import AuditChainHead

from . import chain

logger = logging.getLogger("zsjg.audit")


async def current_head(engine: AsyncEngine) -> tuple[int, str]:
    async with async_sessionmaker(engine)() as session:
        head = await session.scalar(
            select(AuditChainHead).where(AuditChainHead.id == chain.HEAD_ID)
        )
        if head is None:
            raise RuntimeError("the audit chain head is missing: is the database migrated?")
        return head.seq, head.hash


async def anchor_now(
    engine: AsyncEngine, path: Path, clock: Clock, *, only_if_moved: bool = False
) -> chain.Anchor | None:
    """Append the current head to the anchor file; with ``only_if_moved``, skip an unchanged head."""
    seq, digest = await current_head(engine)
    if only_if_moved:
        known = chain.read_anchors(path)
        if (known and known[-1].seq == seq) or seq == 0:
            return None
    anchor = chain.Anchor(seq=seq, hash=digest, at=chain.rfc3339(clock.now()))
    await asyncio.to_thread(chain.append_anchor, path, anchor)
    return anchor


async def verify_database(engine: AsyncEngine, anchors: list[chain.Anchor]) -> chain.Report:
    async with async_sessionmaker(engine)() as session:
        return await session.run_sync(chain.verify, anchors)


async def anchor_periodically(
    engine: AsyncEngine, path: Path, clock: Clock, interval_seconds: float
) -> None:
    """Anchor the head every ``interval_seconds`` while it moves; runs until cancelled."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await anchor_now(engine, path, clock, only_if_moved=True)
        except Exception:
            logger.exception("could not anchor the audit chain head to %s; will try again", path)


class PeriodicAnchor:
    """The server's background anchoring task (started and stopped with the app)."""

    def __init__(
        self, engine: AsyncEngine, path: Path, clock: Clock, interval_seconds: float
    ) -> None:
        self._args = (engine, path, clock, interval_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._args[3] > 0:
            self._task = asyncio.create_task(anchor_periodically(*self._args))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


__all__ = ["PeriodicAnchor", "anchor_now", "current_head", "verify_database"]

"""What the task import keeps besides tasks: the feed's cursor and the feed tasks it could not take in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ._base import Base, IdMixin


class UpstreamCursor(Base):
    """Where a feed of the main platform was read up to (the platform's opaque cursor)."""

    __tablename__ = "upstream_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class HeldImport(IdMixin, Base):
    """A feed task that cannot even become a task here (unlisted items, an unknown department, a
    malformed item…): kept with the reason for a lead, never dropped. A later version of the same
    task that can be taken in resolves it."""

    __tablename__ = "held_imports"

    task_ref: Mapped[str] = mapped_column(String(200), unique=True)
    version: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column()
    """The feed item as received (or, when it could not be decoded, its text under ``raw``)."""
    reason: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16))
    """``imported`` (a later version became a task) or ``withdrawn`` (the platform withdrew it)."""
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    """The team whose lead sees it, when the feed names a known inspector; else every lead does."""

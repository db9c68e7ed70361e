"""Devices and the rotating refresh tokens bound to them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ._base import Base, CreatedMixin, IdMixin


class Device(CreatedMixin, Base):
    """One app install of one user. Its id is made by the client."""

    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped whenever the device's session ends (sign-out, reuse detected); older access tokens stop working."""
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(200))


class RefreshToken(IdMixin, CreatedMixin, Base):
    """A refresh token (only its sha256 is stored); each use rotates it."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    session_generation: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

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


class SsoLogin(IdMixin, CreatedMixin, Base):
    """One sign-in through the platform's single sign-on, from the browser's start to its session.

    The ``state`` and the browser binding (a cookie) are stored as sha256 hashes; the PKCE
    verifier and the nonce are kept only until the callback. After the callback the row holds the
    signed-in user and the hash of a one-time login code, which the app redeems for its own
    device-bound session (no SSO token ever reaches the browser).
    """

    __tablename__ = "sso_logins"

    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(64))
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    called_back_at: Mapped[datetime | None]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    login_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    login_code_expires_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]

"""Evidence files: tus uploads in progress and the content-addressed files they became."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ._base import Base


class Upload(Base):
    """A tus upload: it belongs to the user and the device that created it, for one task."""

    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    """Bytes written and flushed to disk; a longer spool file is cut back to this after a crash."""
    digest: Mapped[str] = mapped_column(String(64))
    """The sha256 the phone declared (``Upload-Metadata: sha256``); the whole file is checked against it."""
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata")
    state: Mapped[str] = mapped_column(String(16))
    """``open``, ``stored`` (the file is in the store), ``refused`` or ``terminated``."""
    refusal: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]


class StoredFile(Base):
    """A file in the content-addressed store, checked and described; its key is its sha256."""

    __tablename__ = "stored_files"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    exif_taken_at: Mapped[str | None] = mapped_column(String(32))
    """EXIF DateTimeOriginal as written in the file (with its offset when the file has one)."""
    exif_latitude: Mapped[str | None] = mapped_column(String(16))
    exif_longitude: Mapped[str | None] = mapped_column(String(16))
    has_thumbnail: Mapped[bool] = mapped_column(default=False)
    """Made after the file is accepted, by decoding all of its pixels."""
    decode_error: Mapped[str | None] = mapped_column(String(200))
    """Why the pixels could not be decoded whole (a truncated or corrupt image), if so."""
    stored_at: Mapped[datetime]
    first_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

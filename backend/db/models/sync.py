"""What the sync engine keeps: synced records, conflicts, rejections, amendments, the mutation log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ._base import Base, IdMixin


class SyncMeta(Base):
    """The single row with the change sequence (locked by every writer until it commits) and the epoch."""

    __tablename__ = "sync_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[str] = mapped_column(String(64))
    """Changes when a backup is restored: phones then push again what they hold."""


class SyncRecord(Base):
    """A record the phones sync: per-field last-writer-wins registers (``sync.Register`` as JSON)."""

    __tablename__ = "sync_records"
    __table_args__ = (Index("ix_sync_records_task_id_version", "task_id", "version"),)

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"))
    fields: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(BigInteger, index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(String(64))
    deleted_by: Mapped[dict[str, Any] | None]


class SyncConflict(Base):
    __tablename__ = "sync_conflicts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID]
    field: Mapped[str] = mapped_column(String(64))
    winner: Mapped[dict[str, Any]]
    loser: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    resolved_by: Mapped[dict[str, Any] | None]
    version: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime]


class SyncRejection(IdMixin, Base):
    """A mutation that can never apply, kept verbatim with its reason; never dropped."""

    __tablename__ = "sync_rejections"

    mutation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    version: Mapped[int] = mapped_column(BigInteger)


class SyncAmendment(IdMixin, Base):
    """A change the task's state no longer allowed: kept for the lead, not applied."""

    __tablename__ = "sync_amendments"

    mutation_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), index=True)
    task_status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class MutationLogEntry(IdMixin, Base):
    """The permanent mutation log: every mutation a device pushed and what became of it."""

    __tablename__ = "mutation_log"
    __table_args__ = (UniqueConstraint("device_id", "mutation_id"),)

    mutation_id: Mapped[str | None] = mapped_column(String(64))
    """Unique per device: a mutation id is the device's to make."""
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    flags: Mapped[list[str]]
    hlc: Mapped[str | None] = mapped_column(String(90))
    """The stamp as the device sent it (a stamp too far ahead is clamped for ordering, this is kept)."""
    at: Mapped[datetime]


class DeviceSync(Base):
    """A device's place in the protocol and what it says it still holds."""

    __tablename__ = "device_sync"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_mutations: Mapped[int] = mapped_column(Integer, default=0)
    pending_files: Mapped[int] = mapped_column(Integer, default=0)
    oldest_pending_at: Mapped[datetime | None]
    last_push_at: Mapped[datetime | None]
    last_pull_at: Mapped[datetime | None]
    app_version: Mapped[str | None] = mapped_column(String(32))


class TaskRevocation(IdMixin, Base):
    """A task taken from a user (reassignment): their next pull says so."""

    __tablename__ = "task_revocations"

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    version: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime]

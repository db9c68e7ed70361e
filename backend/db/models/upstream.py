"""The forwarding outbox: what the connector still has to deliver to the main platform."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ._base import Base, CreatedMixin, IdMixin
from .people import _enum


class OutboxKind(enum.StrEnum):
    PHOTO = "photo"
    RECORD = "record"
    REFERRAL = "referral"
    ASSIGNMENT = "assignment"
    """A lead's reassignment of the task (DESIGN §7: reported to the platform too)."""


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    """Failed for good (a permanent refusal, or too many attempts): waits for an operator."""


class OutboxMessage(IdMixin, CreatedMixin, Base):
    """One message to the platform, written in the transaction that approved its record.

    Messages of a task go in ``stage`` order (its photos, then its record, then its referrals;
    a later version's after the earlier one's): a message is due only when every message of an
    earlier stage of its task has been sent, so a dead letter holds back only its own task.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_outbox_messages_due", "state", "next_attempt_at"),
        Index("ix_outbox_messages_task_id_stage", "task_id", "stage"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"))
    stage: Mapped[int] = mapped_column(Integer)
    kind: Mapped[OutboxKind] = mapped_column(_enum(OutboxKind, "outbox_kind"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    """Sent as ``Idempotency-Key``: the platform stores a message once however often it arrives."""
    subject: Mapped[str] = mapped_column(String(128))
    """The platform subject the message is sent on behalf of (the primary inspector, 主检)."""
    record_version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[OutboxState] = mapped_column(
        _enum(OutboxState, "outbox_state"), default=OutboxState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts that count towards the dead letter (a wait the platform asked for does not)."""
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    """A worker holds the message until then; after a crash another worker takes it again."""
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]
    receipt: Mapped[str | None] = mapped_column(String(200))
    """The platform's receipt of the delivered message."""
    deliveries: Mapped[int] = mapped_column(BigInteger, default=0)
    """Every request made for this message (retries, renewals and replays included)."""

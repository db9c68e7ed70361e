"""The one audit service every domain service calls (never a handler, never a log line).

``Audit.record`` queues an event on the caller's session; the events are appended to the
chain just before that session's transaction commits (``before_commit``), under the chain
head's lock, so the change and its event commit together or not at all. Events queued in
a transaction or savepoint that rolls back are dropped with it. Taking the head lock last
keeps it short and out of any lock cycle with the domain rows.

``Audit.record_after_response`` is for refusals a person asked for: the request's own
transaction is rolled back, so the event is written in a transaction of its own once the
response is sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from backend.clock import Clock
from backend.db.engine import write_intent
from sync import canonical_digest, check_canonical

from . import chain
from .actions import AuditAction

_PENDING = "zsjg.audit.pending"
logger = logging.getLogger("zsjg.audit")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a signed-in person on a device, or the system itself."""

    role: str
    user_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(role="system")

    @property
    def is_person(self) -> bool:
        return self.user_id is not None


@dataclass(frozen=True, slots=True)
class _Pending:
    draft: chain.EventDraft
    transaction: SessionTransaction | None


def digest_of(state: Mapping[str, Any] | None) -> str | None:
    """The digest of a subject's state before or after a change (canonical JSON, sha256)."""
    return None if state is None else canonical_digest(state)


@dataclass
class Audit:
    """Records events for one unit of work, on behalf of one actor."""

    session: AsyncSession
    clock: Clock
    actor: Actor
    request_id: str | None = None
    session_maker: async_sessionmaker[AsyncSession] | None = None
    after_response: list[chain.EventDraft] = field(default_factory=list)

    def as_actor(self, actor: Actor) -> Audit:
        """The same unit of work on behalf of someone else (e.g. the user a sign-in identified)."""
        return Audit(
            self.session,
            self.clock,
            actor,
            self.request_id,
            self.session_maker,
            self.after_response,
        )

    def _draft(
        self,
        action: AuditAction,
        *,
        subject_kind: str,
        subject_id: object,
        task_id: uuid.UUID | None,
        reason: str | None,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        details: Mapping[str, Any] | None,
    ) -> chain.EventDraft:
        return chain.EventDraft(
            at=self.clock.now(),
            actor_user_id=self.actor.user_id,
            actor_device_id=self.actor.device_id,
            actor_role=self.actor.role,
            action=AuditAction(action).value,
            subject_kind=subject_kind,
            subject_id=str(subject_id),
            task_id=task_id,
            request_id=self.request_id,
            reason=reason,
            before_digest=digest_of(before),
            after_digest=digest_of(after),
            details=dict(details or {}),
        )

    def record(
        self,
        action: AuditAction,
        *,
        subject_kind: str,
        subject_id: object,
        task_id: uuid.UUID | None = None,
        reason: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue an event; it commits with the session's transaction or not at all."""
        draft = self._draft(
            action,
            subject_kind=subject_kind,
            subject_id=subject_id,
            task_id=task_id,
            reason=reason,
            before=before,
            after=after,
            details=details,
        )
        # refuse what cannot be hashed (a float, a non-JSON value) now, not at commit
        check_canonical(chain.canonical_event(draft, seq=0, prev_hash=chain.GENESIS_HASH))
        sync_session = self.session.sync_session
        transaction = sync_session.get_nested_transaction() or sync_session.get_transaction()
        sync_session.info.setdefault(_PENDING, []).append(_Pending(draft, transaction))

    def record_after_response(
        self,
        action: AuditAction,
        *,
        subject_kind: str,
        subject_id: object,
        task_id: uuid.UUID | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep an event to write in its own transaction after the response (a refusal changes nothing)."""
        self.after_response.append(
            self._draft(
                action,
                subject_kind=subject_kind,
                subject_id=subject_id,
                task_id=task_id,
                reason=reason,
                before=None,
                after=None,
                details=details,
            )
        )

    async def write_after_response(self) -> None:
        if not self.after_response or self.session_maker is None:
            return
        drafts, self.after_response[:] = list(self.after_response), []
        try:
            await write_now(self.session_maker, drafts)
        except Exception:
            logger.exception("could not record %d refusal event(s) in the audit trail", len(drafts))


async def write_now(
    session_maker: async_sessionmaker[AsyncSession], drafts: list[chain.EventDraft]
) -> None:
    """Append events in a transaction of their own."""
    with write_intent():
        async with session_maker() as session, session.begin():
            await session.run_sync(chain.append, drafts)


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    if transaction is None:
        return ended.parent is None
    current: SessionTransaction | None = transaction
    while current is not None:
        if current is ended:
            return True
        current = current.parent
    return False


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending: list[_Pending] | None = session.info.pop(_PENDING, None)
    if pending:
        chain.append(session, [p.draft for p in pending])


@event.listens_for(Session, "after_transaction_end")
def _drop_with_root(session: Session, transaction: SessionTransaction) -> None:
    # the outermost transaction ended (committed, rolled back or closed): nothing may outlive it
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[_Pending] | None = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            p for p in pending if not _inside(p.transaction, previous_transaction)
        ]

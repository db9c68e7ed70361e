"""The forwarding worker: drains the outbox to the platform, at least once, in order per task.

Each round claims the due messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers share the outbox; SQLite has one writer at a time) by stamping a lease, commits,
delivers them outside any transaction, and records each outcome:

* sent — the message is done; a record's delivery moves its task to ``forwarded``;
* retry — the next attempt after the wait the platform asked for (``Retry-After``, not counted
  as a failure) or after exponential backoff with full jitter, capped; after ``max_attempts``
  counted failures the message becomes a dead letter;
* dead — a refusal no retry can change: a dead letter with its last error, for an operator.

A worker that dies between the platform's acceptance and its own bookkeeping leaves a lease
that runs out; the message is then sent again with the same ``Idempotency-Key`` and the
platform stores it once. A dead letter holds back only the later stages of its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from backend.clock import Clock
from backend.db.engine import write_intent
from backend.db.models import OutboxKind, OutboxMessage, OutboxState, Task, TaskStatus
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Actor, Audit
from backend.domain.media.storage import BlobStore
from backend.domain.sync.store import lock_counter

from .importer import TaskImporter
from .platform_client import Delivery, Outcome, PlatformClient

log = logging.getLogger("zsjg.forwarding")


@dataclass(frozen=True, slots=True)
class ForwardingPolicy:
    batch: int = 64
    concurrency: int = 16
    lease: timedelta = timedelta(minutes=5)
    """Longer than a round can take: 64 messages, 16 at a time, each up to a 30 s timeout and a
    renewal (a lease that ran out lets another worker send again — harmless, yet wasted)."""
    max_attempts: int = 12
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_cap: timedelta = timedelta(hours=1)
    idle_poll: timedelta = timedelta(seconds=1)
    publication_every: timedelta = timedelta(minutes=1)
    import_every: timedelta = timedelta(minutes=1)


@dataclass
class RoundReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    keys: list[str] = field(default_factory=list)


class Forwarder:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        client: PlatformClient,
        store: BlobStore,
        clock: Clock,
        policy: ForwardingPolicy | None = None,
        *,
        name: str | None = None,
        rng: random.Random | None = None,
        postgres: bool = False,
    ) -> None:
        self._session_maker = session_maker
        self.client = client
        self._store = store
        self._clock = clock
        self.policy = policy or ForwardingPolicy()
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.postgres = postgres
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_publication_check: datetime | None = None
        self._publication: asyncio.Task[None] | None = None
        """The publication sweep, beside the delivery rounds (never in their way)."""
        self.importer: TaskImporter | None = None
        """Reads the platform's task feed beside the delivery rounds, every ``import_every``."""
        self._next_import: datetime | None = None
        self._import: asyncio.Task[None] | None = None

    # the background loop ------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"forwarding-{self.name}")

    async def stop(self) -> None:
        for task in (self._task, self._publication, self._import):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._publication = self._import = None
        await self.client.close()
        if self.importer is not None:
            await self.importer.close()

    async def _run(self) -> None:
        while True:
            try:
                report = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failing round must not end the worker; the next one retries
                log.exception("forwarding round failed")
                report = RoundReport()
            self._maybe_check_publication()
            self._maybe_import()
            if report.claimed:
                continue  # more may be due: no sleep while there is a backlog
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.policy.idle_poll.total_seconds())

    # one round -----------------------------------------------------------------------------

    async def run_once(self) -> RoundReport:
        """Claim what is due, deliver it, record the outcomes."""
        claimed = await self._claim()
        report = RoundReport(claimed=len(claimed))
        if not claimed:
            return report
        gate = asyncio.Semaphore(self.policy.concurrency)

        async def one(message: OutboxMessage) -> tuple[OutboxMessage, Outcome]:
            async with gate:
                try:
                    return message, await self._deliver(message)
                except Exception as exc:  # one message's surprise must not cost the others
                    log.exception("delivering %s failed", message.idempotency_key)
                    return message, Outcome("retry", None, f"internal: {exc!r}"[:500])

        outcomes = await asyncio.gather(*(one(m) for m in claimed))
        await self._settle(outcomes, report)
        return report

    async def _claim(self) -> list[OutboxMessage]:
        now = self._clock.now()
        earlier = aliased(OutboxMessage)
        held_back = exists().where(
            earlier.task_id == OutboxMessage.task_id,
            earlier.stage < OutboxMessage.stage,
            earlier.state != OutboxState.SENT,
        )
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.state == OutboxState.PENDING,
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
                ~held_back,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.task_id, OutboxMessage.stage)
            .limit(self.policy.batch)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True, of=OutboxMessage)
        with write_intent():
            async with self._session_maker() as session, session.begin():
                messages = list((await session.scalars(query)).all())
                for message in messages:
                    message.claimed_until = now + self.policy.lease
                    message.claimed_by = self.name
                    message.last_attempt_at = now
                    message.deliveries += 1
        return messages

    async def _deliver(self, message: OutboxMessage) -> Outcome:
        body = None
        if message.kind is OutboxKind.PHOTO:
            digest = str(message.payload["sha256"])
            try:
                body = await asyncio.to_thread(self._read, digest)
            except OSError as exc:
                return Outcome("retry", None, f"the file {digest} cannot be read: {exc}")
        return await self.client.deliver(
            Delivery(
                kind=message.kind.value,
                idempotency_key=message.idempotency_key,
                subject=message.subject,
                payload=message.payload,
                body=body,
            )
        )

    def _read(self, digest: str) -> bytes:
        with self._store.open(digest) as f:
            return f.read()

    async def _settle(
        self, outcomes: Sequence[tuple[OutboxMessage, Outcome]], report: RoundReport
    ) -> None:
        now = self._clock.now()
        forwarded: set[uuid.UUID] = set()
        with write_intent():
            async with self._session_maker() as session, session.begin():
                audit = Audit(session, self._clock, Actor.system())
                delivered = [(m, o) for m, o in outcomes if o.result == "sent"]
                if delivered:
                    # one executemany for the common case; done whoever holds the lease now
                    await session.execute(
                        update(OutboxMessage),
                        [
                            {
                                "id": message.id,
                                "state": OutboxState.SENT,
                                "sent_at": now,
                                "last_status": outcome.status,
                                "last_error": None,
                                "receipt": outcome.receipt,
                                "claimed_until": None,
                            }
                            for message, outcome in delivered
                        ],
                    )
                for message, _ in delivered:
                    report.sent += 1
                    report.keys.append(message.idempotency_key)
                    if message.kind is OutboxKind.RECORD:
                        forwarded.add(message.task_id)
                for message, outcome in outcomes:
                    if outcome.result == "sent":
                        continue
                    fresh = await session.get(OutboxMessage, message.id, with_for_update=True)
                    if (
                        fresh is None
                        or fresh.claimed_by != self.name
                        or fresh.state is not OutboxState.PENDING
                    ):
                        continue  # our lease ran out and another worker took it over
                    fresh.last_status = outcome.status
                    fresh.last_error = outcome.error
                    fresh.claimed_until = None
                    counted = outcome.retry_after is None
                    if counted:
                        fresh.attempts += 1
                    if outcome.result == "dead" or fresh.attempts >= self.policy.max_attempts:
                        report.dead += 1
                        fresh.state = OutboxState.DEAD
                        fresh.dead_at = now
                        audit.record(
                            AuditAction.RECORD_DEAD_LETTERED,
                            subject_kind="outbox_message",
                            subject_id=fresh.id,
                            task_id=fresh.task_id,
                            reason=(outcome.error or "")[:500],
                            details={
                                "idempotency_key": fresh.idempotency_key,
                                "attempts": fresh.attempts,
                                "status": outcome.status,
                            },
                        )
                        continue
                    report.retried += 1
                    fresh.next_attempt_at = now + self._wait(fresh.attempts, outcome.retry_after)
                if forwarded:
                    await self._mark_forwarded(session, audit, forwarded, now)

    def _wait(self, attempts: int, retry_after: float | None) -> timedelta:
        if retry_after is not None:
            # exactly what was asked, plus a little spread so a recovering platform is not hit
            # by the whole backlog in the same second
            spread = self._rng.uniform(0, min(retry_after * 0.1, 30.0))
            return timedelta(seconds=retry_after + spread)
        ceiling = min(
            self.policy.backoff_cap.total_seconds(),
            self.policy.backoff_base.total_seconds() * 2 ** max(attempts - 1, 0),
        )
        return timedelta(seconds=self._rng.uniform(0, ceiling))  # full jitter

    async def _mark_forwarded(
        self, session: AsyncSession, audit: Audit, task_ids: set[uuid.UUID], now: datetime
    ) -> None:
        meta = await lock_counter(session)
        tasks = (
            await session.scalars(
                select(Task).where(Task.id.in_(task_ids)).order_by(Task.id).with_for_update()
            )
        ).all()
        for task in tasks:
            if task.status is not TaskStatus.APPROVED:
                continue
            task.status = TaskStatus.FORWARDED
            meta.seq += 1
            task.sync_version = meta.seq
            task.updated_at = now
            audit.record(
                AuditAction.RECORD_FORWARDED,
                subject_kind="task",
                subject_id=task.id,
                task_id=task.id,
                before={"status": TaskStatus.APPROVED.value},
                after={"status": TaskStatus.FORWARDED.value},
            )

    # the task feed -------------------------------------------------------------------------

    def _maybe_import(self) -> None:
        """Start a round of the task import when it is due and none is running: reading the feed
        must not hold up deliveries either."""
        if self.importer is None or (self._import is not None and not self._import.done()):
            return
        now = self._clock.now()
        if self._next_import is not None and now < self._next_import:
            return
        self._next_import = now + self.policy.import_every
        self._import = asyncio.create_task(self._run_import(self.importer), name="task-import")

    async def _run_import(self, importer: TaskImporter) -> None:
        try:
            report = await importer.run_once()
        except Exception:  # the next round tries again
            log.exception("task import failed")
            return
        if report.error is not None:
            log.warning("task import stopped: %s", report.error)
            if report.retry_after is not None:
                wait = max(self.policy.import_every, timedelta(seconds=report.retry_after))
                self._next_import = self._clock.now() + wait

    # publication ---------------------------------------------------------------------------

    def _published_at(self, at: object) -> datetime:
        """The platform's ``published_at``; now when it is missing or malformed (a time without
        an offset is UTC): one odd answer must not hold back every other task's publication."""
        if isinstance(at, str):
            try:
                when = datetime.fromisoformat(at.replace("Z", "+00:00"))
            except ValueError:
                log.warning("publication time %r is not ISO 8601", at[:100])
            else:
                return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return self._clock.now()

    def _maybe_check_publication(self) -> None:
        """Start the publication sweep when it is due and not still running: its requests (one
        per forwarded task) must not hold up the delivery of newly approved records."""
        if self._publication is not None and not self._publication.done():
            return
        now = self._clock.now()
        last = self._last_publication_check
        if last is not None and now - last < self.policy.publication_every:
            return
        self._last_publication_check = now
        self._publication = asyncio.create_task(
            self._sweep_publication(), name=f"publication-{self.name}"
        )

    async def _sweep_publication(self) -> None:
        try:
            await self.check_publication()
        except Exception:  # the next sweep tries again
            log.exception("publication check failed")

    async def check_publication(self) -> int:
        """Ask the platform about forwarded records; a published one publishes its task."""
        async with self._session_maker() as session:
            rows = (
                await session.execute(
                    select(Task.id, OutboxMessage.subject, OutboxMessage.idempotency_key)
                    .join(OutboxMessage, OutboxMessage.task_id == Task.id)
                    .where(
                        Task.status == TaskStatus.FORWARDED,
                        OutboxMessage.kind == OutboxKind.RECORD,
                        OutboxMessage.state == OutboxState.SENT,
                    )
                    .order_by(Task.id, OutboxMessage.record_version.desc())
                )
            ).all()
        latest: dict[uuid.UUID, tuple[str, str]] = {}
        for task_id, subject, key in rows:
            latest.setdefault(task_id, (subject, key))
        published: dict[uuid.UUID, datetime] = {}
        for task_id, (subject, key) in latest.items():
            status = await self.client.publication(subject, key)
            if status and status.get("status") == "published":
                published[task_id] = self._published_at(status.get("published_at"))
        if not published:
            return 0
        with write_intent():
            async with self._session_maker() as session, session.begin():
                meta = await lock_counter(session)
                audit = Audit(session, self._clock, Actor.system())
                tasks = (
                    await session.scalars(
                        select(Task)
                        .where(Task.id.in_(published), Task.status == TaskStatus.FORWARDED)
                        .order_by(Task.id)
                        .with_for_update()
                    )
                ).all()
                for task in tasks:
                    task.status = TaskStatus.PUBLISHED
                    task.published_at = published[task.id]
                    meta.seq += 1
                    task.sync_version = meta.seq
                    task.updated_at = self._clock.now()
                    audit.record(
                        AuditAction.RECORD_PUBLISHED,
                        subject_kind="task",
                        subject_id=task.id,
                        task_id=task.id,
                        before={"status": TaskStatus.FORWARDED.value},
                        after={"status": TaskStatus.PUBLISHED.value},
                    )
        return len(tasks)

"""What an operator sees of the forwarding: the backlog, the dead letters, and a retry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from backend.db.models import OutboxMessage, OutboxState
from backend.domain.audit.actions import AuditAction
from backend.domain.fields import Reason
from backend.errors import InvalidInput, OutboxMessageNotFound
from backend.http.deps import AuditUnit, Ctx, DbSession
from backend.http.security import requires_operator


class OutboxEntry(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    task_id: uuid.UUID
    kind: str
    idempotency_key: str
    record_version: int
    stage: int
    state: str
    blocked: bool
    """Waiting behind an earlier message of its task that is not delivered (perhaps a dead letter)."""
    attempts: int
    deliveries: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    dead_at: datetime | None


class OutboxSummary(msgspec.Struct, kw_only=True):
    pending: int
    blocked: int
    dead: int
    sent: int
    oldest_pending_at: datetime | None
    """How far behind the forwarding is: the creation time of the oldest undelivered message."""


class OutboxPage(msgspec.Struct, kw_only=True):
    summary: OutboxSummary
    messages: list[OutboxEntry]


class RetryRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason
    """Why it is retried now (e.g. the platform fixed its side): kept in the audit trail."""


def _blocked() -> object:
    earlier = aliased(OutboxMessage)
    return exists().where(
        earlier.task_id == OutboxMessage.task_id,
        earlier.stage < OutboxMessage.stage,
        earlier.state != OutboxState.SENT,
    )


def _entry(message: OutboxMessage, blocked: bool) -> OutboxEntry:
    return OutboxEntry(
        id=message.id,
        task_id=message.task_id,
        kind=message.kind.value,
        idempotency_key=message.idempotency_key,
        record_version=message.record_version,
        stage=message.stage,
        state=message.state.value,
        blocked=blocked,
        attempts=message.attempts,
        deliveries=message.deliveries,
        next_attempt_at=message.next_attempt_at,
        last_attempt_at=message.last_attempt_at,
        last_status=message.last_status,
        last_error=message.last_error,
        created_at=message.created_at,
        sent_at=message.sent_at,
        dead_at=message.dead_at,
    )


class OutboxController(Controller):
    path = "/api/v1/ops/outbox"
    tags = ["operations"]
    guards = [requires_operator]

    @get("/", operation_id="listOutbox")
    async def list_outbox(
        self,
        db_session: DbSession,
        wanted: Annotated[
            OutboxState,
            QueryParameter(
                name="state", description="pending (the backlog), dead (dead letters) or sent"
            ),
        ] = OutboxState.PENDING,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> OutboxPage:
        """The forwarding backlog or its dead letters, oldest first, with a summary."""
        blocked = _blocked()
        grouped = await db_session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        )
        counts: dict[OutboxState, int] = dict(grouped.tuples().all())
        blocked_count = await db_session.scalar(
            select(func.count()).where(OutboxMessage.state == OutboxState.PENDING, blocked)  # type: ignore[arg-type]
        )
        oldest = await db_session.scalar(
            select(func.min(OutboxMessage.created_at)).where(
                OutboxMessage.state != OutboxState.SENT
            )
        )
        rows = (
            await db_session.execute(
                select(OutboxMessage, blocked.label("blocked"))  # type: ignore[attr-defined]
                .where(OutboxMessage.state == wanted)
                .order_by(OutboxMessage.created_at, OutboxMessage.task_id, OutboxMessage.stage)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        return OutboxPage(
            summary=OutboxSummary(
                pending=counts.get(OutboxState.PENDING, 0),
                blocked=blocked_count or 0,
                dead=counts.get(OutboxState.DEAD, 0),
                sent=counts.get(OutboxState.SENT, 0),
                oldest_pending_at=oldest,
            ),
            messages=[_entry(m, bool(b)) for m, b in rows],
        )

    @post("/{message_id:uuid}/retry", operation_id="retryOutboxMessage", status_code=HTTP_200_OK)
    async def retry(
        self,
        message_id: FromPath[uuid.UUID],
        data: JSONBody[RetryRequest],
        ctx: Ctx,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> OutboxEntry:
        """Send a dead letter again (its attempts start over); recorded in the audit trail."""
        message = await db_session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None:
            raise OutboxMessageNotFound("没有这条报送消息", message_id=str(message_id))
        if message.state is not OutboxState.DEAD:
            raise InvalidInput(
                f"只有失败（死信）的消息可以重试；这条消息的状态是 {message.state.value}",
                state=message.state.value,
            )
        now = ctx.clock.now()
        message.state = OutboxState.PENDING
        message.attempts = 0
        message.next_attempt_at = now
        message.dead_at = None
        message.claimed_until = None
        await db_session.flush()
        audit.record(
            AuditAction.RECORD_RETRIED,
            subject_kind="outbox_message",
            subject_id=message.id,
            task_id=message.task_id,
            reason=data.reason,
            details={"idempotency_key": message.idempotency_key, "last_error": message.last_error},
        )
        ctx.wake_forwarder()
        return _entry(message, blocked=False)

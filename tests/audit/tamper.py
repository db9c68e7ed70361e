"""What an attacker with database rights does: bypass the triggers and edit the trail."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.models import AuditEvent
from backend.domain.audit.chain import event_hash


async def raw(session_maker: async_sessionmaker[AsyncSession], *statements: str) -> None:
    """Run statements with the append-only triggers out of the way."""
    async with session_maker() as session, session.begin():
        dialect = session.bind.dialect.name
        if dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            await session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            await session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        for statement in statements:
            await session.execute(text(statement))
        if dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


async def rewrite_from(
    session_maker: async_sessionmaker[AsyncSession], seq: int, reason: str
) -> None:
    """Change event ``seq`` and recompute every later hash and the head, as a careful attacker would."""
    async with session_maker() as session:
        rows: Sequence[AuditEvent] = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
            )
        ).all()
        prev = (
            await session.execute(
                text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq - 1}
            )
        ).scalar()
        updates = []
        for row in rows:
            if row.seq == seq:
                row.reason = reason
            digest = event_hash(row, seq=row.seq, prev_hash=prev)
            updates.append((row.seq, prev, digest, row.reason))
            prev = digest
        session.expunge_all()
    statements = [
        f"UPDATE audit_events SET prev_hash = '{p}', hash = '{h}', reason = {_sql(r)} WHERE seq = {s}"
        for s, p, h, r in updates
    ]
    statements.append(f"UPDATE audit_chain_head SET hash = '{prev}' WHERE id = 1")
    await raw(session_maker, *statements)


def _sql(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"

"""The chain: one order under concurrency, append-only in the database, every tamper class caught."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.engine import write_intent
from backend.db.models import AuditEvent, Department
from backend.domain.audit import chain
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.operations import anchor_now, verify_database
from backend.domain.audit.service import Actor, Audit
from tests.audit.tamper import raw, rewrite_from

pytestmark = pytest.mark.anyio
Maker = async_sessionmaker[AsyncSession]


async def _record(maker: Maker, clock: FixedClock, n: int, *, reason: str = "测试") -> None:
    with write_intent():
        async with maker() as session, session.begin():
            audit = Audit(
                session,
                clock,
                Actor(role="team_lead", user_id=uuid.uuid4(), device_id=uuid.uuid4()),
                "req-1",
            )
            for i in range(n):
                audit.record(
                    AuditAction.TASK_REASSIGNED,
                    subject_kind="task",
                    subject_id=f"t{i}",
                    reason=reason,
                    before={"n": i},
                    after={"n": i + 1},
                    details={"i": i},
                )


async def _events(maker: Maker) -> list[AuditEvent]:
    async with maker() as s:
        return list((await s.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all())


async def _verify(maker: Maker, anchors: list[chain.Anchor] | None = None) -> chain.Report:
    async with maker() as s:
        return await s.run_sync(chain.verify, anchors or [])


async def test_events_link_and_verify(session_maker: Maker, clock: FixedClock) -> None:
    await _record(session_maker, clock, 3)
    await _record(session_maker, clock, 2)
    events = await _events(session_maker)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == chain.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert events[0].request_id == "req-1" and events[0].before_digest and events[0].after_digest
    report = await _verify(session_maker)
    assert report.intact and report.events == 5 and report.last_hash == events[-1].hash


async def test_a_rolled_back_transaction_leaves_no_event(
    session_maker: Maker, clock: FixedClock
) -> None:
    with pytest.raises(RuntimeError), write_intent():
        async with session_maker() as session, session.begin():
            Audit(session, clock, Actor.system()).record(
                AuditAction.TASK_ASSIGNED, subject_kind="task", subject_id="x"
            )
            raise RuntimeError("the change failed")
    # a savepoint that rolls back drops its own events, not the outer ones
    with write_intent():
        async with session_maker() as session, session.begin():
            audit = Audit(session, clock, Actor.system())
            audit.record(AuditAction.TASK_ASSIGNED, subject_kind="task", subject_id="kept")
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    audit.record(
                        AuditAction.TASK_ASSIGNED, subject_kind="task", subject_id="dropped"
                    )
                    raise RuntimeError("inner failure")
            audit.record(AuditAction.TASK_ASSIGNED, subject_kind="task", subject_id="also kept")
    assert [e.subject_id for e in await _events(session_maker)] == ["kept", "also kept"]


async def test_unhashable_details_are_refused_before_anything_is_written(
    session_maker: Maker, clock: FixedClock
) -> None:
    from sync import CanonicalFormError

    async with session_maker() as session:
        with pytest.raises(CanonicalFormError):
            Audit(session, clock, Actor.system()).record(
                AuditAction.FILE_ACCEPTED,
                subject_kind="file",
                subject_id="f",
                details={"lat": 25.9},
            )
        for unhashable in ({"name": "a\ud800"}, {"\udfff": 1}, {"at": clock.now()}):
            with pytest.raises(CanonicalFormError):
                Audit(session, clock, Actor.system()).record(
                    AuditAction.FILE_ACCEPTED,
                    subject_kind="file",
                    subject_id="f",
                    details=unhashable,
                )


async def test_concurrent_writers_get_one_order(session_maker: Maker, clock: FixedClock) -> None:
    """Twelve transactions overlap (each holds a row lock and sleeps); the chain still has one order."""

    async def writer(n: int) -> None:
        with write_intent():
            async with session_maker() as session, session.begin():
                session.add(
                    Department(id=uuid.uuid4(), code=f"C{n:017d}", name=f"部门{n}", level="county")
                )
                await session.flush()
                audit = Audit(session, clock, Actor.system(), f"w{n}")
                for i in range(3):
                    audit.record(
                        AuditAction.CALENDAR_CHANGED, subject_kind="calendar", subject_id=f"{n}-{i}"
                    )
                await asyncio.sleep(0.01)

    await asyncio.gather(*(writer(n) for n in range(12)))
    events = await _events(session_maker)
    assert [e.seq for e in events] == list(range(1, 37))
    # each transaction's events are contiguous: appended together under the head lock
    for start in range(0, 36, 3):
        assert len({e.request_id for e in events[start : start + 3]}) == 1
    assert (await _verify(session_maker)).intact


async def test_the_database_refuses_update_and_delete(
    session_maker: Maker, clock: FixedClock
) -> None:
    await _record(session_maker, clock, 1)
    for statement in ("UPDATE audit_events SET reason = 'changed'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with session_maker() as session, session.begin():
                await session.execute(text(statement))
    assert len(await _events(session_maker)) == 1


@pytest.fixture
async def chain_of_ten(session_maker: Maker, clock: FixedClock, tmp_path: Path) -> Path:
    await _record(session_maker, clock, 10)
    path = tmp_path / "anchors.jsonl"
    engine = session_maker.kw["bind"]
    await anchor_now(engine, path, clock)
    assert (await verify_database(engine, chain.read_anchors(path))).intact
    return path


async def _report(session_maker: Maker, anchors: Path) -> chain.Report:
    report = await verify_database(session_maker.kw["bind"], chain.read_anchors(anchors))
    assert not report.intact
    return report


async def test_tamper_changed_field(session_maker: Maker, chain_of_ten: Path) -> None:
    await raw(session_maker, "UPDATE audit_events SET reason = '无' WHERE seq = 4")
    finding = (await _report(session_maker, chain_of_ten)).findings[0]
    assert finding.seq == 4 and "a field was changed" in finding.problem


async def test_tamper_deleted_event(session_maker: Maker, chain_of_ten: Path) -> None:
    await raw(session_maker, "DELETE FROM audit_events WHERE seq = 6")
    finding = (await _report(session_maker, chain_of_ten)).findings[0]
    assert finding.seq == 6 and "missing" in finding.problem


async def test_tamper_two_events_swapped(session_maker: Maker, chain_of_ten: Path) -> None:
    await raw(
        session_maker,
        "UPDATE audit_events SET seq = -3 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = 4",
        "UPDATE audit_events SET seq = 4 WHERE seq = -3",
    )
    finding = (await _report(session_maker, chain_of_ten)).findings[0]
    assert finding.seq == 3 and "does not link" in finding.problem


async def test_tamper_truncated_tail(session_maker: Maker, chain_of_ten: Path) -> None:
    events = await _events(session_maker)
    await raw(
        session_maker,
        "DELETE FROM audit_events WHERE seq > 7",
        f"UPDATE audit_chain_head SET seq = 7, hash = '{events[6].hash}' WHERE id = 1",
    )
    report = await _report(session_maker, chain_of_ten)
    assert report.findings[0].seq == 8 and "removed from the end" in report.findings[0].problem
    # without the anchor, the truncated chain looks whole: that is what anchors are for
    assert (await verify_database(session_maker.kw["bind"], [])).intact


async def test_tamper_rewritten_with_recomputed_hashes(
    session_maker: Maker, chain_of_ten: Path
) -> None:
    await rewrite_from(session_maker, 5, "改写")
    assert (await verify_database(session_maker.kw["bind"], [])).intact  # internally consistent
    report = await _report(session_maker, chain_of_ten)
    assert report.findings[0].seq == 10 and "rewritten" in report.findings[0].problem


async def test_head_out_of_step_is_reported(session_maker: Maker, chain_of_ten: Path) -> None:
    await raw(session_maker, "UPDATE audit_chain_head SET seq = 12 WHERE id = 1")
    assert "chain head" in (await _report(session_maker, chain_of_ten)).findings[0].problem


async def test_anchor_only_if_moved(
    session_maker: Maker, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "a.jsonl"
    engine = session_maker.kw["bind"]
    assert await anchor_now(engine, path, clock, only_if_moved=True) is None  # empty chain
    await _record(session_maker, clock, 2)
    first = await anchor_now(engine, path, clock, only_if_moved=True)
    assert first is not None and first.seq == 2
    assert await anchor_now(engine, path, clock, only_if_moved=True) is None
    assert [a.seq for a in chain.read_anchors(path)] == [2]
    path.write_text(path.read_text() + "not json\n")
    with pytest.raises(chain.AnchorFileError, match=":2:"):
        chain.read_anchors(path)


async def test_the_head_row_cannot_be_deleted_and_its_absence_is_reported(
    session_maker: Maker, clock: FixedClock
) -> None:
    await _record(session_maker, clock, 2)
    with pytest.raises(DBAPIError, match="DELETE refused"):
        async with session_maker() as session, session.begin():
            await session.execute(text("DELETE FROM audit_chain_head"))
    async with (
        session_maker() as session,
        session.begin(),
    ):  # an attacker who drops the trigger first
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("ALTER TABLE audit_chain_head DISABLE TRIGGER USER"))
        else:
            await session.execute(text("DROP TRIGGER audit_chain_head_no_delete"))
        await session.execute(text("DELETE FROM audit_chain_head"))
    report = await _verify(session_maker)
    assert not report.intact and "head row is missing" in report.findings[0].problem


async def test_events_of_a_closed_session_never_land(
    session_maker: Maker, clock: FixedClock
) -> None:
    with write_intent():
        session = session_maker()
        await session.execute(text("SELECT 1"))
        Audit(session, clock, Actor.system()).record(
            AuditAction.TASK_ASSIGNED, subject_kind="task", subject_id="abandoned"
        )
        await session.close()  # the change is abandoned without a rollback call
        async with session.begin():
            Audit(session, clock, Actor.system()).record(
                AuditAction.TASK_ASSIGNED, subject_kind="task", subject_id="kept"
            )
        await session.close()
    assert [e.subject_id for e in await _events(session_maker)] == ["kept"]


async def test_periodic_anchoring_survives_a_failing_round(
    session_maker: Maker, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from backend.domain.audit import operations

    calls: list[int] = []
    real = operations.anchor_now

    async def flaky(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(operations, "anchor_now", flaky)
    await _record(session_maker, clock, 1)
    path = tmp_path / "periodic.jsonl"
    task = asyncio.create_task(
        operations.anchor_periodically(session_maker.kw["bind"], path, clock, 0.01)
    )
    try:
        for _ in range(500):  # at most 5 s
            if path.exists() and chain.read_anchors(path):
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(calls) >= 2 and [a.seq for a in chain.read_anchors(path)] == [1]


async def test_downgrade_refuses_to_drop_a_trail(
    session_maker: Maker, clock: FixedClock, database_url: str
) -> None:
    from alembic import command

    from backend.db.migrate import alembic_config

    await _record(session_maker, clock, 1)
    await session_maker.kw["bind"].dispose()
    with pytest.raises(RuntimeError, match="refusing to drop an audit trail"):
        await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0002")
    assert len(await _events(session_maker)) == 1

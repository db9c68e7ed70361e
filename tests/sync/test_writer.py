"""The push writer: pushes waiting together commit together, and each still stands alone."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.db.models import Device, MutationLogEntry, Role, SyncRecord
from backend.domain.auth.principal import Principal
from backend.domain.sync.services import SyncService
from backend.domain.sync.store import Turn
from backend.domain.sync.writer import PushWriter, ServerStopping
from sync import PushRequest
from tests.world import World, build_world

Maker = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def device_of(maker: Maker, clock: FixedClock, user_id: uuid.UUID) -> Principal:
    device_id = uuid.uuid4()
    async with maker() as session, session.begin():
        session.add(Device(id=device_id, user_id=user_id, name="测试机", last_seen_at=clock.now()))
    return Principal(user_id=user_id, device_id=device_id, role=Role.INSPECTOR)


def finding_push(p: Principal, task_id: uuid.UUID, seqs: range) -> PushRequest:
    mutations: list[Any] = [
        {
            "id": str(uuid.uuid4()),
            "client_id": str(p.device_id),
            "seq": seq,
            "hlc": f"{1_796_000_000_000 + seq:015d}.000000.{p.device_id}",
            "kind": "create",
            "entity": "finding",
            "entity_id": str(uuid.uuid4()),
            "task_id": str(task_id),
            "payload": {"text": f"发现{seq}"},
        }
        for seq in seqs
    ]
    body = {
        "protocol_version": 1,
        "app_version": "test",
        "client_id": str(p.device_id),
        "mutations": mutations,
    }
    return msgspec.json.decode(msgspec.json.encode(body), type=PushRequest)


async def count(maker: Maker, model: type) -> int:
    async with maker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def three_together(
    session_maker: Maker,
    clock: FixedClock,
    world: World,
    phones: tuple[Principal, Principal, Principal],
    sizes: tuple[int, int, int],
) -> list[Any]:
    """Three pushes of findings (``sizes`` mutations each) handed to one writer at once;
    their answers, an exception where one failed."""
    writer = PushWriter(session_maker, clock)
    await writer.start()
    try:
        return await asyncio.gather(
            *(
                writer.push(p, finding_push(p, world["t1"], range(1, n + 1)), f"r-{i}")
                for i, (p, n) in enumerate(zip(phones, sizes, strict=True))
            ),
            return_exceptions=True,
        )
    finally:
        await writer.stop()


async def test_waiting_pushes_share_one_commit_and_fail_alone(
    session_maker: Maker, clock: FixedClock, world: World
) -> None:
    a = await device_of(session_maker, clock, world["amr_a"])
    b = await device_of(session_maker, clock, world["amr_b"])
    # a device that was never registered: its state row cannot be written (foreign key)
    ghost = Principal(user_id=world["amr_a"], device_id=uuid.uuid4(), role=Role.INSPECTOR)
    records_before = await count(session_maker, SyncRecord)
    writer = PushWriter(session_maker, clock)
    await writer.start()
    try:
        results = await asyncio.gather(
            writer.push(a, finding_push(a, world["t1"], range(1, 4)), "r-a"),
            writer.push(ghost, finding_push(ghost, world["t1"], range(1, 3)), "r-ghost"),
            writer.push(b, finding_push(b, world["t1"], range(1, 6)), "r-b"),
            return_exceptions=True,
        )
        assert writer.groups == 1  # all three were waiting when the writer woke
        ok_a, failed, ok_b = results
        assert not isinstance(ok_a, BaseException) and not isinstance(ok_b, BaseException)
        assert isinstance(failed, Exception)
        assert [r.outcome for r in ok_a.results] == ["applied"] * 3
        assert ok_b.last_seq == 5
        assert await count(session_maker, SyncRecord) == records_before + 8
        assert await count(session_maker, MutationLogEntry) == 8
        # the same push again: answered from the log, nothing applied twice
        again = await writer.push(a, finding_push(a, world["t1"], range(1, 4)), "r-a2")
        assert [r.outcome for r in again.results] == ["skipped"] * 3
        assert await count(session_maker, SyncRecord) == records_before + 8
        # a push that fails alone fails alone, and the writer goes on
        with pytest.raises(IntegrityError):  # its mutations name a device that was never registered
            await writer.push(ghost, finding_push(ghost, world["t1"], range(1, 2)), "r-ghost2")
        after = await writer.push(b, finding_push(b, world["t1"], range(6, 7)), "r-b2")
        assert [r.outcome for r in after.results] == ["applied"]
        assert await count(session_maker, SyncRecord) == records_before + 9
    finally:
        await writer.stop()
    with pytest.raises(ServerStopping):
        await writer.push(a, finding_push(a, world["t1"], range(4, 5)), "late")


async def test_a_push_that_breaks_the_transaction_fails_alone(
    session_maker: Maker, clock: FixedClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite may roll the whole transaction back on an I/O error: the others apply again."""
    a = await device_of(session_maker, clock, world["amr_a"])
    b = await device_of(session_maker, clock, world["amr_b"])
    c = await device_of(session_maker, clock, world["amr_a"])  # a second phone of hers
    original = SyncService.apply

    async def breaking(
        self: SyncService, principal: Principal, request: PushRequest, turn: Turn
    ) -> Any:
        if principal.device_id == b.device_id:
            connection = await self._session.connection()
            if connection.dialect.name == "sqlite":
                await connection.exec_driver_sql("ROLLBACK")  # what SQLite does on SQLITE_IOERR
            raise OperationalError("INSERT …", {}, Exception("disk I/O error"))
        return await original(self, principal, request, turn)

    monkeypatch.setattr(SyncService, "apply", breaking)
    first, broken, third = await three_together(session_maker, clock, world, (a, b, c), (2, 2, 3))
    assert isinstance(broken, OperationalError)
    assert not isinstance(first, BaseException) and not isinstance(third, BaseException)
    assert [r.outcome for r in first.results + third.results] == ["applied"] * 5
    async with session_maker() as session:
        logged = (
            await session.execute(
                select(MutationLogEntry.device_id, func.count()).group_by(
                    MutationLogEntry.device_id
                )
            )
        ).all()
    assert dict(logged) == {a.device_id: 2, c.device_id: 3}


async def test_a_group_is_bounded_by_its_mutations(
    session_maker: Maker, clock: FixedClock, world: World
) -> None:
    phones = [await device_of(session_maker, clock, world["amr_a"]) for _ in range(6)]
    writer = PushWriter(session_maker, clock)
    await writer.start()
    try:
        answers = await asyncio.gather(
            *(writer.push(p, finding_push(p, world["t1"], range(1, 501)), "r") for p in phones)
        )
    finally:
        await writer.stop()
    assert all(len(x.results) == 500 for x in answers)
    assert writer.groups == 2  # 4 × 500 reach the bound; the other two make a second group


async def test_a_state_that_cannot_be_written_fails_its_own_push(
    session_maker: Maker, clock: FixedClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The devices' states are written at the end of a group: a failure there is found out
    by applying the group's pushes one by one, and falls on its own push."""
    import backend.domain.sync.writer as writer_module

    a = await device_of(session_maker, clock, world["amr_a"])
    b = await device_of(session_maker, clock, world["amr_b"])
    c = await device_of(session_maker, clock, world["amr_a"])
    original = writer_module.end_turn

    async def failing(session: AsyncSession, turn: Turn) -> None:
        if b.device_id in turn.states:
            raise OverflowError("a value the column cannot hold")
        await original(session, turn)

    monkeypatch.setattr(writer_module, "end_turn", failing)
    first, broken, third = await three_together(session_maker, clock, world, (a, b, c), (2, 2, 1))
    assert isinstance(broken, OverflowError)
    assert not isinstance(first, BaseException) and not isinstance(third, BaseException)
    assert first.last_seq == 2 and third.last_seq == 1
    async with session_maker() as session:
        logged = (
            await session.execute(
                select(MutationLogEntry.device_id, func.count()).group_by(
                    MutationLogEntry.device_id
                )
            )
        ).all()
    assert dict(logged) == {a.device_id: 2, c.device_id: 1}


async def test_other_tasks_run_between_the_pushes_of_a_group(
    session_maker: Maker, clock: FixedClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's statements run on the loop's thread: it yields after each push, so a
    group of many pushes keeps the other requests waiting for one push at the most."""
    phones = [await device_of(session_maker, clock, world["amr_a"]) for _ in range(4)]
    ticks = 0
    seen: list[int] = []

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    apply = SyncService.apply

    async def counting(self: SyncService, *args: Any) -> Any:
        seen.append(ticks)
        return await apply(self, *args)

    monkeypatch.setattr(SyncService, "apply", counting)
    writer = PushWriter(session_maker, clock)
    await writer.start()
    ticker = asyncio.create_task(tick())
    try:
        await asyncio.gather(
            *(writer.push(p, finding_push(p, world["t1"], range(1, 4)), None) for p in phones)
        )
    finally:
        ticker.cancel()
        await writer.stop()
    assert writer.groups == 1 and len(seen) == 4
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))

"""The SQLite driver: statements in place run on the loop's thread and never make it wait for a lock;
a reader's BEGIN goes with its first statement."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.engine import write_intent
from backend.db.sqlite_driver import (
    _in_place,
    _read_in_place,
    _run,
    reads_in_place,
    statements_in_place,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite driver")


async def _thread_of_statements(session: AsyncSession) -> int:
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    assert raw is not None
    sqlite = raw._conn  # the sqlite3 connection, to give it a function
    sqlite.create_function("which_thread", 0, threading.get_ident)
    return int((await session.execute(text("SELECT which_thread()"))).scalar_one())


async def test_statements_in_place_run_on_the_loops_thread(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    loop_thread = threading.get_ident()
    async with session_maker() as session:
        assert await _thread_of_statements(session) != loop_thread  # the connection's thread
    with write_intent(), statements_in_place():
        async with session_maker() as session, session.begin():
            assert await _thread_of_statements(session) == loop_thread
            await session.execute(
                text("UPDATE sync_meta SET seq = seq WHERE id = 1")
            )  # a write of the transaction, in place too
    async with session_maker() as session:  # outside the block: the thread again
        assert await _thread_of_statements(session) != loop_thread


async def test_a_begin_in_place_that_finds_the_lock_taken_waits_without_stopping_the_loop(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    holder_has_lock = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_write_lock() -> None:
        with write_intent():
            async with session_maker() as session, session.begin():
                await session.execute(text("UPDATE sync_meta SET seq = seq WHERE id = 1"))
                holder_has_lock.set()
                await release.wait()

    holder = asyncio.create_task(hold_the_write_lock())
    await holder_has_lock.wait()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    asyncio.get_running_loop().call_later(0.3, release.set)
    started = time.monotonic()
    with write_intent(), statements_in_place():
        async with session_maker() as session, session.begin():
            await session.execute(text("UPDATE sync_meta SET seq = seq WHERE id = 1"))  # BEGIN
            waited = time.monotonic() - started
            (timeout,) = (await session.execute(text("PRAGMA busy_timeout"))).one()
    ticker.cancel()
    await holder
    assert waited >= 0.25  # it waited for the holder's commit …
    assert ticks >= 10  # … while the loop went on running other tasks
    assert timeout == 10000  # the busy timeout is what it was before the attempt


async def test_an_error_in_place_is_the_drivers_error_and_the_transaction_rolls_back(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    from sqlalchemy.exc import IntegrityError

    async with session_maker() as session:
        before = (await session.execute(text("SELECT seq FROM sync_meta"))).scalar_one()
    with pytest.raises(IntegrityError), write_intent(), statements_in_place():
        async with session_maker() as session, session.begin():
            await session.execute(text("UPDATE sync_meta SET seq = seq + 1 WHERE id = 1"))
            await session.execute(text("INSERT INTO sync_meta (id, seq, epoch) VALUES (1, 0, 'x')"))
    async with session_maker() as session:
        assert (await session.execute(text("SELECT seq FROM sync_meta"))).scalar_one() == before


async def test_a_readers_transaction_and_statements_outside_a_write_transaction_go_to_the_thread(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """In place is only for a transaction that holds the write lock: a reader's statements may
    wait (WAL recovery), and so may a new connection's ``PRAGMA journal_mode``."""
    loop_thread = threading.get_ident()
    with statements_in_place():  # no write intent: the transaction begins deferred
        async with session_maker() as session:
            assert await _thread_of_statements(session) != loop_thread
    plain = sqlite3.connect(":memory:", isolation_level=None)
    pragma = "PRAGMA journal_mode"
    assert await _in_place(_run, True, plain, pragma, None) is None  # not in a transaction
    plain.execute("BEGIN")
    assert await _in_place(_run, False, plain, pragma, None) is None  # a deferred BEGIN's
    assert await _in_place(_run, False, plain, "BEGIN", None) is None
    assert await _in_place(_run, True, plain, pragma, None) is not None


async def test_a_transaction_keeps_its_pages_until_its_commit(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """``cache_spill`` off: no write to the WAL from a statement run in place."""
    async with session_maker() as session:
        assert (await session.execute(text("PRAGMA cache_spill"))).scalar_one() == 0


async def _set_seq(session_maker: async_sessionmaker[AsyncSession], seq: int) -> None:
    with write_intent():
        async with session_maker() as session, session.begin():
            await session.execute(
                text("UPDATE sync_meta SET seq = :seq WHERE id = 1"), {"seq": seq}
            )


async def test_a_deferred_begin_goes_with_the_first_statement_and_keeps_one_snapshot(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """The reader's ``BEGIN`` is sent with its first statement (one trip, not two): what it
    reads first and last is one snapshot, whatever commits in between."""
    await _set_seq(session_maker, 7)
    for in_place in (False, True):
        with reads_in_place() if in_place else contextlib.nullcontext():
            async with session_maker() as reader:
                first = (await reader.execute(text("SELECT seq FROM sync_meta"))).scalar_one()
                await _set_seq(session_maker, first + 1)  # another connection commits
                again = (await reader.execute(text("SELECT seq FROM sync_meta"))).scalar_one()
                assert again == first
            async with session_maker() as after:
                now = (await after.execute(text("SELECT seq FROM sync_meta"))).scalar_one()
                assert now == first + 1
    async with session_maker() as session, session.begin():
        pass  # a transaction with no statement: nothing sent, nothing left open
    await _set_seq(session_maker, 7)


async def test_reads_in_place_run_on_the_loops_thread_and_a_write_goes_to_the_connections(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    loop_thread = threading.get_ident()
    with reads_in_place():
        async with session_maker() as session:
            assert await _thread_of_statements(session) == loop_thread
        async with session_maker() as session, session.begin():
            assert await _thread_of_statements(session) == loop_thread
            # a write: to the thread, and the transaction ends there (its commit may fsync)
            await session.execute(text("UPDATE sync_meta SET seq = 41 WHERE id = 1"))
            assert await _thread_of_statements(session) != loop_thread
    async with session_maker() as session:
        assert (await session.execute(text("SELECT seq FROM sync_meta"))).scalar_one() == 41
        assert await _thread_of_statements(session) != loop_thread  # outside the block
    await _set_seq(session_maker, 7)


async def test_a_read_in_place_that_sqlite_answers_busy_goes_to_the_thread() -> None:
    plain = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    plain.execute("PRAGMA busy_timeout=1234")

    def busy(conn: sqlite3.Connection, operation: str, parameters: object) -> Any:
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
        raise error

    assert await _read_in_place(busy, True, 1234, plain, "SELECT 1", None) is None
    assert not plain.in_transaction  # its BEGIN undone: the thread begins it again
    assert plain.execute("PRAGMA busy_timeout").fetchone() == (1234,)
    assert await _read_in_place(_run, True, 1234, plain, "UPDATE t SET x = 1", None) is None
    assert not plain.in_transaction  # not a read: nothing done here
    done = await _read_in_place(_run, True, 1234, plain, "SELECT 42", None)
    assert done is not None and done[1] == [(42,)]
    assert plain.in_transaction
    assert plain.execute("PRAGMA busy_timeout").fetchone() == (1234,)


async def test_a_transaction_that_begins_with_a_streamed_statement_is_one_transaction(
    sqlite_only: None, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """A server-side cursor's statements do not go through the driver's trip: the BEGIN put
    off is sent before them, so a stream is inside its transaction (one snapshot, rolled back)."""
    await _set_seq(session_maker, 7)
    engine = session_maker.kw["bind"]
    async with engine.connect() as reader:
        streamed = await reader.stream(text("SELECT seq FROM sync_meta"))
        first = (await streamed.fetchall())[0][0]
        await _set_seq(session_maker, first + 1)
        again = (await reader.execute(text("SELECT seq FROM sync_meta"))).scalar_one()
        assert again == first
    with reads_in_place():
        async with engine.connect() as writer:
            assert (await writer.execute(text("SELECT seq FROM sync_meta"))).scalar_one() == 8
            written = await writer.stream(text("UPDATE sync_meta SET seq = 99 WHERE id = 1"))
            await written.close()
            await writer.rollback()
    async with session_maker() as session:
        assert (await session.execute(text("SELECT seq FROM sync_meta"))).scalar_one() == 8
    await _set_seq(session_maker, 7)

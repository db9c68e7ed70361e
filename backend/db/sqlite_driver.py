"""SQLAlchemy's aiosqlite adapter, with one trip to the database thread per statement.

aiosqlite runs each SQLite connection in its own thread and hands it work through a queue.
SQLAlchemy's adapter makes four such hand-overs for every statement (open a cursor, execute,
fetch, close), each a thread switch and an event-loop wake-up: about 0.1 ms apiece on the
project's machine, most of the cost of a simple query. This adapter sends the whole statement
as one function (``_run``) and so makes one trip; ``executemany`` likewise. Everything else
(connections, transactions, errors, server-side cursors) is SQLAlchemy's own.

It is passed to the engine as its DBAPI module (``create_async_engine(..., module=DBAPI)``);
the URL stays ``sqlite+aiosqlite``. It relies on two internals of aiosqlite, ``_execute``
(queue a function for the connection's thread) and ``_conn`` (the ``sqlite3`` connection, only
touched inside that thread); the versions are pinned in ``constraints.txt`` and the whole test
suite runs through it. ``docs/benchmarks.md`` has the measurements.

Inside :func:`statements_in_place` (the one writer of pushes) the statements of a write
transaction make no trip at all: they run on the event loop's thread. Once ``BEGIN IMMEDIATE``
holds SQLite's one write lock, no statement of the transaction can wait for another connection
(in WAL mode readers never block a writer), and with ``cache_spill`` off (``engine.py``) none
writes to the disk before the commit, so each is CPU work of microseconds to a millisecond,
cheaper done at once than handed over (the hand-over, the wake-up and the interpreter lock going
back and forth cost a quarter of a push's CPU). The rest still goes to the connection's thread:
a ``BEGIN IMMEDIATE`` that finds the write lock taken (tried first with no busy wait; the thread
then waits for it, up to the busy timeout), the commit (its ``fsync``, and a checkpoint when
one is due), a reader's transaction and whatever runs outside a transaction (a new connection's
pragmas). The connection's thread is idle meanwhile: SQLAlchemy gives a connection one
statement at a time, each finished before the next. The writer lets other tasks run between
the pushes of a group, so the loop waits at most for one push's work.

A deferred ``BEGIN`` (a reader's) takes no lock and reads nothing, so it is not sent on its
own: it goes with the transaction's first statement, in the same trip, and a transaction that
ends before any statement costs nothing. Inside :func:`reads_in_place` (the two lookups every
request makes: the caller's device session, the quick answer to a pull at the head) a
reader's ``SELECT`` runs on the loop's thread as well, with no busy wait (a read SQLite
answers busy goes to the thread), and so does the end of that reader's transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.util.concurrency import await_only

_Result = tuple[Any, list[Any] | None, Any, int]

_IN_PLACE: ContextVar[bool] = ContextVar("zsjg_statements_in_place", default=False)


@contextlib.contextmanager
def statements_in_place() -> Iterator[None]:
    """Statements of SQLite transactions run inside this block (in this task) run on the loop's thread.

    Only for transactions that begin ``IMMEDIATE`` (:func:`backend.db.engine.write_intent`)
    and make short statements; other databases' drivers ignore it.
    """
    token = _IN_PLACE.set(True)
    try:
        yield
    finally:
        _IN_PLACE.reset(token)


_READS_IN_PLACE: ContextVar[bool] = ContextVar("zsjg_reads_in_place", default=False)


@contextlib.contextmanager
def reads_in_place() -> Iterator[None]:
    """Short reads of SQLite inside this block (in this task) run on the loop's thread.

    For a lookup by key on every request (the caller's device session, the quick pull): in
    WAL mode a reader takes no lock another connection holds, so the read is a few
    microseconds of CPU, cheaper than two hand-overs to the connection's thread. A read that
    SQLite answers busy (WAL recovery) goes to the thread. Other databases' drivers ignore it.
    """
    token = _READS_IN_PLACE.set(True)
    try:
        yield
    finally:
        _READS_IN_PLACE.reset(token)


async def _read_in_place(
    fn: Callable[[sqlite3.Connection, str, Any], _Result],
    begin: bool,
    busy_timeout_ms: int,
    conn: sqlite3.Connection,
    operation: str,
    parameters: Any,
) -> _Result | None:
    """A read (and the ``BEGIN`` put off for it) on the loop's thread; ``None``: to the thread.

    Only a ``SELECT`` runs here; anything else, and a read SQLite answers busy, goes to the
    connection's thread (which waits up to the busy timeout). A coroutine that never suspends,
    as ``_in_place``.
    """
    if operation.lstrip()[:6].upper() != "SELECT":
        return None
    conn.execute("PRAGMA busy_timeout=0")
    try:
        if begin:
            conn.execute("BEGIN")
        return fn(conn, operation, parameters)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
            raise
        if begin and conn.in_transaction:
            conn.execute("ROLLBACK")  # the thread begins it again
        return None
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")


def _run(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Result:
    """Run in the connection's thread: execute, fetch everything, close the cursor."""
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, operation: str, seq_of_parameters: Any) -> _Result:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _begun(fn: Callable[[sqlite3.Connection, str, Any], _Result]) -> Callable[..., _Result]:
    """``fn``, after the ``BEGIN`` that was put off until now (in the same trip)."""

    def run(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Result:
        conn.execute("BEGIN")
        return fn(conn, operation, parameters)

    return run


def _is_deferred_begin(operation: str) -> bool:
    return operation.strip().upper() in ("BEGIN", "BEGIN DEFERRED", "BEGIN TRANSACTION")


def _takes_write_lock(begin: str) -> bool:
    return begin.upper().split()[1:2] in (["IMMEDIATE"], ["EXCLUSIVE"])


async def _in_place(
    fn: Callable[[sqlite3.Connection, str, Any], _Result],
    write_locked: bool,
    conn: sqlite3.Connection,
    operation: str,
    parameters: Any,
) -> _Result | None:
    """Run on the loop's thread; ``None`` for what must go to the connection's thread.

    In place: a ``BEGIN IMMEDIATE`` that gets the write lock at once, and the statements of
    the transaction it began. To the thread: a ``BEGIN`` that would wait for the lock, any
    other ``BEGIN`` (a reader's statements may wait, in WAL recovery), and statements outside
    a write transaction (a new connection's pragmas). A coroutine that never suspends, so that
    SQLAlchemy sees the await it expects of an async driver.
    """
    if operation[:5].upper() != "BEGIN":
        return fn(conn, operation, parameters) if write_locked and conn.in_transaction else None
    if not write_locked:
        return None
    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout=0")
    try:
        return fn(conn, operation, parameters)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # SQLITE_BUSY and its variants
            raise
        return None  # taken: the connection's thread waits for it
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(timeout)}")


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _trip(self, fn: Any, operation: Any, parameters: Any) -> _Result:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: _OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if operation[:5].upper() == "BEGIN":
            adapted.write_locked = _takes_write_lock(operation)
            if _is_deferred_begin(operation):
                # a deferred BEGIN takes no lock and reads nothing: it goes with the next statement,
                # and a transaction that ends before one needs no trip at all
                adapted.begin_pending = True
                return None, None, -1, -1
        if (
            _READS_IN_PLACE.get()
            and not adapted.write_locked
            and (adapted.begin_pending or adapted.read_in_place)
        ):
            read: _Result | None = None
            try:
                read = self.await_(
                    _read_in_place(
                        fn,
                        adapted.begin_pending,
                        adapted.busy_timeout_ms,
                        driver._conn,
                        operation,
                        parameters,
                    )
                )
            except Exception as error:
                adapted.read_in_place = adapted.read_in_place or adapted.begin_pending
                adapted.begin_pending = False
                self._adapt_connection._handle_exception(error)
            if read is not None:
                if adapted.begin_pending:
                    adapted.begin_pending = False
                    adapted.read_in_place = True
                return read
        # a statement on the connection's thread: the transaction ends there too (it may write)
        adapted.read_in_place = False
        if adapted.begin_pending:
            adapted.begin_pending = False
            fn = _begun(fn)
        try:
            if _IN_PLACE.get():
                done: _Result | None = self.await_(
                    _in_place(fn, adapted.write_locked, driver._conn, operation, parameters)
                )
                if done is not None:
                    return done
            result: _Result = self.await_(
                driver._execute(fn, driver._conn, operation, parameters)  # type: ignore[no-untyped-call]
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        return result

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        description, rows, lastrowid, rowcount = self._trip(_run, operation, parameters)
        if description:
            self.description = description
            self.lastrowid = self.rowcount = -1
            self._rows = deque(rows or ())
        else:
            self.description = None
            self.lastrowid = lastrowid
            self.rowcount = rowcount

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        _, _, lastrowid, rowcount = self._trip(_run_many, operation, list(seq_of_parameters))
        self.description = None
        self.lastrowid = lastrowid
        self.rowcount = rowcount


class _StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's server-side cursor (``stream``, ``yield_per``), after the BEGIN put off."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._adapt_connection.begin_now()  # type: ignore[attr-defined]
        return super().execute(operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._adapt_connection.begin_now()  # type: ignore[attr-defined]
        return super().executemany(operation, seq_of_parameters)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin_pending", "busy_timeout_ms", "read_in_place", "write_locked")

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.write_locked = False
        """Whether the transaction began ``IMMEDIATE`` (or ``EXCLUSIVE``): it holds the write lock."""
        self.begin_pending = False
        """A deferred ``BEGIN`` was asked for and waits for the next statement's trip."""
        self.read_in_place = False
        """The open transaction is a reader begun on the loop's thread (``reads_in_place``)."""
        self.busy_timeout_ms = 0
        """What ``PRAGMA busy_timeout`` is put back to after a read in place."""

    def begin_now(self) -> None:
        """Before a statement that does not go through ``_trip``: the BEGIN put off goes first,
        or the statement escapes its transaction; and the transaction ends on the thread."""
        self.read_in_place = False
        if not self.begin_pending:
            return
        self.begin_pending = False
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            self.await_(driver._execute(driver._conn.execute, "BEGIN"))  # type: ignore[no-untyped-call]
        except Exception as error:
            self._handle_exception(error)

    def execute(self, *args: Any, **kw: Any) -> Any:
        self.begin_now()
        return super().execute(*args, **kw)

    def commit(self) -> None:
        if self.begin_pending:  # nothing ran: there is no transaction to end
            self.begin_pending = False
            return
        if self.read_in_place:  # a reader's end: releases its snapshot, no disk work
            self.read_in_place = False
            self._end_in_place(self._connection._conn.commit)
            return
        super().commit()

    def rollback(self) -> None:
        if self.begin_pending:
            self.begin_pending = False
            return
        if self.read_in_place:
            self.read_in_place = False
            self._end_in_place(self._connection._conn.rollback)
            return
        super().rollback()

    def _end_in_place(self, end: Callable[[], None]) -> None:
        try:
            end()
        except Exception as error:
            self._handle_exception(error)

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return _StreamingCursor(self)
        return _OneTripCursor(self)


class _OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        if kw.get("async_fallback") or kw.get("async_creator_fn"):
            return super().connect(*arg, **kw)
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter does
        adapted = _OneTripConnection(self, await_only(connection))
        adapted.busy_timeout_ms = int(float(kw.get("timeout", 5.0)) * 1000)  # sqlite3's default
        return adapted


DBAPI = _OneTripDBAPI(aiosqlite, sqlite3)
"""The module to give ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""

"""The database engine: embedded SQLite (WAL, durable commits) by default, PostgreSQL by URL.

On SQLite a transaction that will write starts with ``BEGIN IMMEDIATE``: it waits (up to the
busy timeout) for the one write lock at its start, instead of failing later when it tries
to upgrade a read snapshot that another writer has made stale. Requests with an unsafe
method and background writers say so with :func:`write_intent`; reads begin deferred and
never wait.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from . import sqlite_driver

_WRITE_INTENT: ContextVar[bool] = ContextVar("zsjg_write_intent", default=False)


@contextlib.contextmanager
def write_intent() -> Iterator[None]:
    """Transactions begun inside this block (in this task) will write."""
    token = _WRITE_INTENT.set(True)
    try:
        yield
    finally:
        _WRITE_INTENT.reset(token)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _json_text(value: Any) -> str:
    """JSON columns are written with msgspec (UTF-8 as is, no ``\\uXXXX`` escapes): several times faster."""
    return msgspec.json.encode(value).decode()


def create_engine(url: str, *, busy_timeout_ms: int = 10_000, echo: bool = False) -> AsyncEngine:
    """Create the async engine; every pooled SQLite connection gets the embedded-mode pragmas."""
    json = {"json_serializer": _json_text}
    if not is_sqlite(url):
        return create_async_engine(url, echo=echo, pool_pre_ping=True, **json)
    extra: dict[str, Any] = dict(json)
    connect_args: dict[str, Any] = {"timeout": busy_timeout_ms / 1000}
    if make_url(url).get_driver_name() == "aiosqlite":
        extra["module"] = sqlite_driver.DBAPI  # one thread hand-over per statement, not four
        # the push writer's statements run on the event loop's thread (``statements_in_place``)
        connect_args["check_same_thread"] = False
    engine = create_async_engine(url, echo=echo, connect_args=connect_args, **extra)
    database = make_url(url).database

    @event.listens_for(engine.sync_engine, "do_connect")
    def _make_directory(*_args: Any) -> None:
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not open transactions behind SQLAlchemy's back, or BEGIN is lost.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # a transaction larger than the page cache keeps its pages in memory instead of
            # writing them to the WAL before its commit: the push writer's statements run on the
            # event loop's thread (``statements_in_place``), which must not do disk writes
            cursor.execute("PRAGMA cache_spill=OFF")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _WRITE_INTENT.get() else "BEGIN")

    return engine

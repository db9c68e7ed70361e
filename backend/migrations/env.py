"""Alembic environment: the same migrations for SQLite and PostgreSQL.

Runs from ``zsjg database …`` (advanced-alchemy's commands, which hand over their engine)
and from ``backend.db.migrate`` (which hands over a URL).
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.db.engine import create_engine
from backend.db.migrate import compare_type, render_item
from backend.db.models import Base

config: Any = context.config


def _url() -> str:
    return str(getattr(config, "db_url", None) or config.get_main_option("sqlalchemy.url"))


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=compare_type,
        render_item=render_item,
        render_as_batch=True,
        version_table="alembic_version",
        transactional_ddl=True,  # SQLite too: a failed migration leaves nothing half done
        transaction_per_migration=True,
        **kwargs,
    )


def _sqlite_pragma(connection: Connection, statement: str) -> list[Any]:
    """Run a PRAGMA on the raw connection, outside any transaction (where foreign_keys takes effect)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _run(connection: Connection) -> None:
    # SQLite rebuilds a table to alter it (copy, drop, rename); with foreign keys enforced the drop
    # of a referenced table fails, so they are off during migrations and checked afterwards.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = _sqlite_pragma(connection, "PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"the migration left rows that break foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


async def _run_online() -> None:
    given: AsyncEngine | None = getattr(config, "engine", None)
    engine = given or create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        if given is None:
            await engine.dispose()


if context.is_offline_mode():
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_online())

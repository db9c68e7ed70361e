"""The migrations are the schema; the embedded database is durable."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.migrate import compare_type, upgrade
from backend.db.models import Base

pytestmark = pytest.mark.anyio


async def test_migrations_match_the_models(session_maker: async_sessionmaker[AsyncSession]) -> None:
    async with session_maker() as session:
        conn = await session.connection()

        def diff(sync_conn):  # type: ignore[no-untyped-def]
            opts = {"compare_type": compare_type}
            return compare_metadata(MigrationContext.configure(sync_conn, opts=opts), Base.metadata)

        assert await conn.run_sync(diff) == []


async def test_sqlite_connections_are_durable(
    session_maker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite pragmas")
    # two sessions open at once hold two different pooled connections: both are set up
    expected = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 10000}
    async with session_maker() as first, session_maker() as second:
        seen = set()
        for session in (first, second):
            conn = await session.connection()
            seen.add(id((await conn.get_raw_connection()).driver_connection))
            pragmas = {
                name: (await session.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            assert pragmas == expected
        assert len(seen) == 2


async def test_foreign_keys_are_enforced(session_maker: async_sessionmaker[AsyncSession]) -> None:
    import uuid

    from sqlalchemy.exc import IntegrityError

    from backend.db.models import Role, User

    with pytest.raises(IntegrityError):
        async with session_maker() as session, session.begin():
            session.add(
                User(
                    id=uuid.uuid4(),
                    username="ghost",
                    display_name="无部门",
                    role=Role.INSPECTOR,
                    department_id=uuid.uuid4(),
                )
            )


def test_migrations_go_down_and_up_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from backend.db.migrate import alembic_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)

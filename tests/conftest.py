"""Test fixtures: a migrated database per test (SQLite, or PostgreSQL when a URL is given).

``ZSJG_TEST_DATABASE_URL`` (e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``) runs
the same suite on PostgreSQL: the schema is migrated once into a template database of this
run, and each test gets its own copy, dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.clock import FixedClock
from backend.db.engine import create_engine
from backend.db.migrate import upgrade
from backend.settings import Settings

PG_URL = os.environ.get("ZSJG_TEST_DATABASE_URL", "")
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Monday


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_admin_dsn(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return dsn, parsed.database or "postgres"


async def _pg_exec(url: str, *statements: str) -> None:
    dsn, _ = _pg_admin_dsn(url)
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head once per run: a file on SQLite, a template database on PostgreSQL."""
    if not PG_URL:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield str(path)
        return
    import anyio

    name = f"zsjg_tpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    anyio.run(_pg_exec, PG_URL, f'CREATE DATABASE "{name}"')
    upgrade(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield name
    finally:
        anyio.run(_pg_exec, PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(migrated_template: str, tmp_path: Path) -> AsyncIterator[str]:
    if not PG_URL:
        path = tmp_path / "zsjg.sqlite3"
        shutil.copyfile(migrated_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"zsjg_t_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    await _pg_exec(PG_URL, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_exec(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        demo_mode=True,
        generate_signing_key=True,
    )


@pytest.fixture
async def session_maker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.effective_database_url)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Litestar:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        yield client

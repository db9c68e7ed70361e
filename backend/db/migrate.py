"""Run the Alembic migrations programmatically (used by ``zsjg demo`` and the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from sqlalchemy.types import TypeDecorator

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def compare_type(
    _context: Any, _inspected: Any, _metadata: Any, _reflected: Any, metadata_type: Any
) -> bool | None:
    """Compare column types, except advanced-alchemy's decorators, which reflect as their storage type."""
    if isinstance(metadata_type, TypeDecorator):
        return False
    return None


def render_item(type_: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Migrations name the storage, not the application's classes: ``Uuid`` is written as GUID."""
    from backend.db.models._base import Uuid

    if type_ == "type" and isinstance(obj, Uuid):
        return "advanced_alchemy.types.guid.GUID(length=16)"
    return False


def alembic_config(url: str) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``. Call outside a running event loop."""
    command.upgrade(alembic_config(url), revision)

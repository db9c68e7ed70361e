from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Uuid(GUID):
    """advanced-alchemy's GUID — the same storage: 16 bytes on SQLite, ``uuid`` on PostgreSQL —
    with a lean way in and out on SQLite for the common case.

    GUID turns every value through ``to_uuid`` and then SQLAlchemy's binary wrapper; a push
    binds hundreds of UUIDs, and that was a tenth of its time. Here a ``uuid.UUID`` is bound
    as its 16 bytes and 16 bytes are read back as a ``uuid.UUID``; anything else (a string)
    takes GUID's way.
    """

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        general = super().bind_processor(dialect)
        if dialect.name != "sqlite" or not self.binary:
            return general

        def process(value: Any) -> Any:
            if value.__class__ is uuid.UUID:
                return value.bytes
            return general(value) if general is not None else value

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or not self.binary:
            return general

        def process(value: Any) -> Any:
            if value.__class__ is bytes and len(value) == 16:
                return uuid.UUID(bytes=value)
            return general(value) if general is not None else value

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """One metadata for every table, so Alembic sees the whole schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        uuid.UUID: Uuid,
        datetime: DateTimeUTC(timezone=True),
        dict[str, Any]: JsonB,
        dict[str, str]: JsonB,
        list[str]: JsonB,
        list[int]: JsonB,
        list[dict[str, Any]]: JsonB,
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class CreatedMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

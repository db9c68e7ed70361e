"""Versioned code tables (检查结果, 后续处置, 核查方式 …) served to clients."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import CodeTableVersion
from backend.domain.tasks.schemas import CodeTableOut
from backend.errors import NotFound


def to_out(row: CodeTableVersion) -> CodeTableOut:
    return CodeTableOut(
        name=row.name,
        version=row.version,
        title=row.title,
        entries=row.entries,
        published_at=row.published_at,
    )


async def current_code_tables(session: AsyncSession) -> list[CodeTableOut]:
    """The newest version of every code table, by name."""
    newest = (
        select(CodeTableVersion.name, func.max(CodeTableVersion.version).label("version"))
        .group_by(CodeTableVersion.name)
        .subquery()
    )
    rows = await session.scalars(
        select(CodeTableVersion)
        .join(
            newest,
            (newest.c.name == CodeTableVersion.name)
            & (newest.c.version == CodeTableVersion.version),
        )
        .order_by(CodeTableVersion.name)
    )
    return [to_out(r) for r in rows]


async def code_table_version(session: AsyncSession, name: str, version: int) -> CodeTableOut:
    row = await session.scalar(
        select(CodeTableVersion).where(
            CodeTableVersion.name == name, CodeTableVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"代码表 {name} 没有第 {version} 版")
    return to_out(row)

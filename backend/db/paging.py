"""One page of a list: the rows of the page and how many there are in all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def page_of(
    session: AsyncSession,
    model: type[T],
    where: Sequence[ColumnElement[bool]],
    *,
    order_by: Sequence[Any],
    limit: int,
    offset: int,
    options: Sequence[Any] = (),
) -> tuple[int, Sequence[T]]:
    """``(total, rows)``: the count of ``model`` rows matching ``where`` and the page asked for."""
    total = await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = (
        await session.scalars(
            select(model)
            .where(*where)
            .options(*options)
            .order_by(*order_by)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return int(total), rows

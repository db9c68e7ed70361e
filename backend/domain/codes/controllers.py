"""The code tables, versioned, for phones to keep offline."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.tasks.schemas import CodeTableOut

from .services import code_table_version, current_code_tables


class CodeTableController(Controller):
    path = "/api/v1/code-tables"
    tags = ["code tables"]

    @get("/", operation_id="listCodeTables")
    async def current(self, db_session: AsyncSession) -> list[CodeTableOut]:
        """The newest version of every code table (检查结果, 后续处置, 核查方式 …)."""
        return await current_code_tables(db_session)

    @get("/{name:str}/versions/{version:int}", operation_id="getCodeTableVersion")
    async def one_version(
        self,
        name: Annotated[str, Parameter(max_length=64)],
        version: Annotated[int, Parameter(ge=1)],
        db_session: AsyncSession,
    ) -> CodeTableOut:
        """One version of one code table, e.g. the one a record was captured with."""
        return await code_table_version(db_session, name, version)

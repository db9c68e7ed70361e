"""The code tables, versioned, for phones to keep offline."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import PathParameter

from backend.domain.tasks.schemas import CodeTableOut
from backend.http.deps import DbSession

from .services import code_table_version, current_code_tables


class CodeTableController(Controller):
    path = "/api/v1/code-tables"
    tags = ["code tables"]

    @get("/", operation_id="listCodeTables")
    async def current(self, db_session: DbSession) -> list[CodeTableOut]:
        """The newest version of every code table (检查结果, 后续处置, 核查方式 …)."""
        return await current_code_tables(db_session)

    @get("/{name:str}/versions/{version:int}", operation_id="getCodeTableVersion")
    async def one_version(
        self,
        name: Annotated[str, PathParameter(max_length=64)],
        version: Annotated[int, PathParameter(ge=1, le=1_000_000)],
        db_session: DbSession,
    ) -> CodeTableOut:
        """One version of one code table, e.g. the one a record was captured with."""
        return await code_table_version(db_session, name, version)

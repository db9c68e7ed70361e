"""The directory of inspection objects, for team leads and operators."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody, QueryParameter
from sqlalchemy import or_

from backend.db.models import InspectionObject, Role
from backend.db.paging import page_of
from backend.http.deps import AuditUnit, Ctx, DbSession
from backend.http.security import requires_role

from .services import InspectionObjectService, NewInspectionObject


class ObjectOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    uscc: str
    name: str
    kind: str
    address: str
    legal_representative: str
    industry: str | None
    risk_level: str | None
    credit_class: str | None


class ObjectPage(msgspec.Struct, kw_only=True):
    items: list[ObjectOut]
    total: int
    limit: int
    offset: int


def _out(o: InspectionObject) -> ObjectOut:
    return ObjectOut(
        id=o.id,
        uscc=o.uscc,
        name=o.name,
        kind=o.kind.value,
        address=o.address,
        legal_representative=o.legal_representative,
        industry=o.industry,
        risk_level=o.risk_level,
        credit_class=o.credit_class,
    )


class InspectionObjectController(Controller):
    path = "/api/v1/objects"
    tags = ["objects"]
    guards = [requires_role(Role.TEAM_LEAD, Role.OPERATOR)]

    @get("/", operation_id="searchObjects")
    async def search(
        self,
        db_session: DbSession,
        q: Annotated[
            str | None,
            QueryParameter(
                max_length=100, pattern=r"^[^\x00]*$", description="Part of the name or code"
            ),
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> ObjectPage:
        """Search the directory by name or 统一社会信用代码."""
        where = []
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                or_(
                    InspectionObject.name.ilike(pattern, escape="\\"),
                    InspectionObject.uscc.ilike(pattern, escape="\\"),
                )
            )
        total, rows = await page_of(
            db_session,
            InspectionObject,
            where,
            order_by=[InspectionObject.name],
            limit=limit,
            offset=offset,
        )
        return ObjectPage(items=[_out(o) for o in rows], total=total, limit=limit, offset=offset)

    @post("/", operation_id="registerObject")
    async def register(
        self, data: JSONBody[NewInspectionObject], ctx: Ctx, db_session: DbSession, audit: AuditUnit
    ) -> ObjectOut:
        """Add an object to the directory; its 统一社会信用代码 must pass the GB 32100 check as given."""
        return _out(await InspectionObjectService(db_session, ctx.clock, audit).register(data))

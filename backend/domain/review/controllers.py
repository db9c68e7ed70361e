"""The team lead's review: approve a submitted record for forwarding, or return it."""

from __future__ import annotations

import uuid

from litestar import Controller, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from backend.http.deps import AuditUnit, Caller, Ctx, DbSession
from backend.http.security import requires_team_lead

from .services import Approval, Return, Reviewed, approve, reopen, return_record


class ReviewController(Controller):
    path = "/api/v1/team/tasks/{task_id:uuid}"
    tags = ["review"]
    guards = [requires_team_lead]

    @post("/approve", operation_id="approveRecord", status_code=HTTP_200_OK)
    async def approve(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[Approval],
        principal: Caller,
        ctx: Ctx,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> Reviewed:
        """Approve a submitted record (审核通过): refused with 409 and what is missing when files
        have not arrived or a signature went stale; queues its forwarding to the platform."""
        reviewed = await approve(db_session, audit, ctx.uploads.store, principal, task_id, data)
        ctx.wake_forwarder()
        return reviewed

    @post("/return", operation_id="returnRecord", status_code=HTTP_200_OK)
    async def return_(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[Return],
        principal: Caller,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> Reviewed:
        """Return a submitted record to its inspectors (退回) with the reason they will see."""
        return await return_record(db_session, audit, principal, task_id, data)

    @post("/reopen", operation_id="reopenRecord", status_code=HTTP_200_OK)
    async def reopen(
        self,
        task_id: FromPath[uuid.UUID],
        data: JSONBody[Return],
        principal: Caller,
        db_session: DbSession,
        audit: AuditUnit,
    ) -> Reviewed:
        """Reopen a forwarded or published record for a correction (更正), with the reason the
        inspectors will see; its next approval is forwarded as a new version."""
        return await reopen(db_session, audit, principal, task_id, data)

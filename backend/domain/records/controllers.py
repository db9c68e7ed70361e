"""The printed record of a task: the 检查记录表 as a PDF, for those who may see the task."""

from __future__ import annotations

import asyncio
import uuid

from litestar import Controller, Response, get
from litestar.params import FromPath

from backend.http.deps import Caller, Ctx, DbSession
from backend.http.security import requires_inspector

from . import form_pdf
from .form import record_form


class RecordFormController(Controller):
    path = "/api/v1/tasks/{task_id:uuid}/record-form"
    tags = ["records"]
    guards = [requires_inspector]

    @get("/", operation_id="getRecordForm", media_type="application/pdf")
    async def pdf(
        self, task_id: FromPath[uuid.UUID], principal: Caller, ctx: Ctx, db_session: DbSession
    ) -> Response[bytes]:
        """The 检查记录表 of the task as it stands, with a QR code of its content hash (PDF)."""
        form = await record_form(
            db_session, principal, task_id, ctx.uploads.store, now=ctx.clock.now()
        )
        pdf = await asyncio.to_thread(form_pdf.render, form)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="record-{task_id}.pdf"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
                "X-Record-Hash": form.record_hash,
            },
        )

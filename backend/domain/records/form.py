"""The 检查记录表 of a task, assembled from what the task holds: its object, its checklist and
the records the inspectors synced (the check items, the result, measures, referrals and
signatures), the code tables' official wording, and the signature images in the store."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import sync
from backend.clock import SHANGHAI
from backend.db.models import SyncRecord
from backend.domain.auth.principal import Principal
from backend.domain.media.storage import BlobStore
from backend.domain.sync.store import record_from_row
from backend.domain.tasks.queries import get_task
from backend.domain.tasks.schemas import CodeTableOut

from .form_pdf import FormItem, FormSignature, RecordForm

MAX_SIGNATURE_BYTES = 2 * 1024 * 1024


def _unwritten(entity: str, record_id: uuid.UUID, task_id: uuid.UUID) -> sync.Record:
    """A server-made record the task does not hold (yet): every field reads ``None``."""
    return sync.Record(entity, record_id, task_id, {}, 0)


def _labels(tables: list[CodeTableOut], name: str, codes: list[str] | None) -> list[str]:
    """Codes as the code table's official wording (an unknown code is printed as it is)."""
    table = next((t for t in tables if t.name == name), None)
    texts = {str(e.get("code")): str(e.get("text")) for e in (table.entries if table else [])}
    return [texts.get(code, code) for code in codes or []]


def _day(instant: str | datetime | None) -> str:
    if instant is None:
        return "    年  月  日"
    moment = (
        datetime.fromisoformat(instant.replace("Z", "+00:00"))
        if isinstance(instant, str)
        else instant
    )
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日"


async def record_form(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    store: BlobStore,
    *,
    now: datetime,
) -> RecordForm:
    """The form of a task the caller may see (404 otherwise), as the record stands now."""
    task = await get_task(session, principal, task_id, now=now)
    records = [
        record_from_row(row)
        for row in await session.scalars(
            select(SyncRecord).where(SyncRecord.task_id == task_id, SyncRecord.deleted.is_(False))
        )
    ]
    by_id = {(r.entity, r.id): r for r in records}

    def live(entity: str) -> list[sync.Record]:
        return sorted((r for r in records if r.entity == entity), key=lambda r: str(r.id))

    items = []
    joint = len(task.items) > 1
    for item in task.items:
        for point in sorted(item.checklist, key=lambda p: p.ordinal):
            check = by_id.get(("check_item", point.check_item_id)) or _unwritten(
                "check_item", point.check_item_id, task_id
            )
            content = f"【{item.name}】{point.content}" if joint else point.content
            items.append(
                FormItem(
                    content=content,
                    conforms=check.value("conforms"),
                    problem=check.value("problem_text"),
                )
            )

    tables = task.code_tables
    result_id = sync.server_record_id(task_id, "result")
    result = by_id.get(("result", result_id)) or _unwritten("result", result_id, task_id)
    follow_up = []
    for measure in live("measure"):
        [label] = _labels(tables, "follow_up_measure", [str(measure.value("code"))])
        text = measure.value("text")
        follow_up.append(f"{label}：{text}" if text else label)
    for referral in live("referral"):
        follow_up.append(
            f"{referral.value('kind')}至{referral.value('target')}：{referral.value('findings')}"
        )

    current = sync.content_hash(task_id, task.object.uscc, records)
    inspectors = {str(i.id): i for i in task.inspectors}
    signatures = []
    for signature in live("signature"):
        refused = signature.value("refused")
        image = None
        digest = signature.value("image_digest")
        if digest and store.has(digest) and (store.size(digest) or 0) <= MAX_SIGNATURE_BYTES:
            with store.open(digest) as f:
                image = f.read()
        if signature.value("signer") == "inspector":
            who = inspectors.get(str(signature.value("signer_user_id")))
            role, name = "检查人员", who.display_name if who else signature.value("signer_name")
            certificate = who.certificate_no if who else None
        else:
            role, name, certificate = "被检查对象", signature.value("signer_name"), None
        signatures.append(
            FormSignature(
                role=role,
                name=name,
                certificate_no=certificate,
                image_png=image,
                refused_reason=refused["reason"] if refused else None,
                witness=refused.get("witness") if refused else None,
                stale=sync.is_stale(signature, current),
            )
        )
    signed = {s.name for s in signatures if s.role == "检查人员"}
    for inspector in task.inspectors:  # those who have not signed yet: a line to sign on paper
        if inspector.display_name not in signed:
            signatures.append(
                FormSignature(
                    role="检查人员",
                    name=inspector.display_name,
                    certificate_no=inspector.certificate_no,
                    image_png=None,
                    refused_reason=None,
                    witness=None,
                    stale=False,
                )
            )

    categories = _labels(tables, "result_category", result.value("categories"))
    return RecordForm(
        task_name=task.name,
        task_code=task.code,
        object_name=task.object.name,
        uscc=task.object.uscc,
        address=task.object.address,
        legal_representative=task.object.legal_representative,
        phone=task.object.legal_representative_phone or task.object.contact_phone,
        department=task.lead_department_name,
        items=items,
        verification_methods=_labels(
            tables, "verification_method", result.value("verification_methods")
        ),
        requested_documents=_labels(
            tables, "requested_document", result.value("requested_documents")
        ),
        result_categories=categories,
        follow_up=follow_up,
        business_remarks=result.value("business_remarks"),
        signatures=signatures,
        checked_on=_day(result.value("checked_at") or task.checked_at),
        record_hash=current,
    )

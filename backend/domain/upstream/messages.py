"""The messages an approved record becomes, written to the outbox in the approving transaction
(and the report of a lead's reassignment, written in the reassigning one).

For version ``n`` of a task's record, in stages: every file the record names (photos and
signature images, by sha256), then the record itself (``record:{task}:v{n}``), then each
referral (抄告/移送). A correction after forwarding is version ``n + 1``, with keys of its own.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import sync
from backend.db.models import OutboxKind, OutboxMessage, StoredFile, SyncRecord, User
from backend.domain.auth.principal import Principal
from backend.domain.media.access import Evidence
from backend.domain.media.storage import BlobStore
from backend.domain.records.form import record_form
from backend.domain.sync.store import record_from_row


def record_key(task_id: uuid.UUID, version: int) -> str:
    return f"record:{task_id}:v{version}"


async def next_version(session: AsyncSession, task_id: uuid.UUID) -> tuple[int, int]:
    """The record version an approval forwards now, and the first stage free for it."""
    version, stage = (
        await session.execute(
            select(
                func.coalesce(func.max(OutboxMessage.record_version), 0),
                func.coalesce(func.max(OutboxMessage.stage), 0),
            ).where(OutboxMessage.task_id == task_id)
        )
    ).one()
    return int(version) + 1, int(stage) + 1


async def compose(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    evidence: Evidence,
    store: BlobStore,
    *,
    subject: str,
    now: datetime,
) -> list[OutboxMessage]:
    """The outbox rows of the task's record as it stands (the caller adds them)."""
    version, stage = await next_version(session, task_id)
    key = record_key(task_id, version)
    files = sorted({f.digest for f in evidence.files if f.required})
    rows = await session.execute(
        select(StoredFile.digest, StoredFile.media_type).where(StoredFile.digest.in_(files))
    )
    media_types: dict[str, str] = dict(rows.tuples().all())
    messages = [
        _message(
            task_id,
            stage,
            OutboxKind.PHOTO,
            f"{key}:file:{digest}",
            subject,
            version,
            {"task_ref": str(task_id), "sha256": digest, "media_type": media_types[digest]},
            now,
        )
        for digest in files
    ]
    form = await record_form(session, principal, task_id, store, now=now)
    record = dataclasses.asdict(form)
    for signature in record["signatures"]:
        signature.pop("image_png", None)  # the image itself travels as a file
    records = [
        record_from_row(row)
        for row in await session.scalars(
            select(SyncRecord)
            .where(SyncRecord.task_id == task_id, SyncRecord.deleted.is_(False))
            .order_by(SyncRecord.entity, SyncRecord.id)
        )
    ]
    record["signature_files"] = [
        {"signer": r.value("signer"), "sha256": r.value("image_digest")}
        for r in records
        if r.entity == "signature" and r.value("image_digest")
    ]
    record_stage = stage + 1 if files else stage
    messages.append(
        _message(
            task_id,
            record_stage,
            OutboxKind.RECORD,
            key,
            subject,
            version,
            {
                "task_ref": str(task_id),
                "record_key": key,
                "version": version,
                "record": record,
                "photos": files,
            },
            now,
        )
    )
    for referral in (r for r in records if r.entity == "referral"):
        messages.append(
            _message(
                task_id,
                record_stage + 1,
                OutboxKind.REFERRAL,
                f"{key}:referral:{referral.id}",
                subject,
                version,
                {
                    "task_ref": str(task_id),
                    "record_key": key,
                    "referral": _referral(referral),
                },
                now,
            )
        )
    return messages


def _referral(record: sync.Record) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "kind": record.value("kind"),
        "target": record.value("target"),
        "findings": record.value("findings"),
    }


def _message(
    task_id: uuid.UUID,
    stage: int,
    kind: OutboxKind,
    key: str,
    subject: str,
    version: int,
    payload: dict[str, Any],
    now: datetime,
) -> OutboxMessage:
    return OutboxMessage(
        id=uuid.uuid4(),
        task_id=task_id,
        stage=stage,
        kind=kind,
        idempotency_key=key,
        subject=subject,
        record_version=version,
        payload=payload,
        attempts=0,
        deliveries=0,
        next_attempt_at=now,
        created_at=now,
    )


async def assignment_message(
    session: AsyncSession,
    task_id: uuid.UUID,
    task_ref: str,
    *,
    lead_id: uuid.UUID,
    inspector_ids: list[uuid.UUID],
    primary_id: uuid.UUID,
    reason: str,
    ordinal: int,
    now: datetime,
) -> OutboxMessage | None:
    """A lead's reassignment for the platform (DESIGN §7), sent on the lead's behalf (on the
    new primary's when the lead has no platform subject) — or ``None`` when an inspector in it
    has none (the platform could not name them)."""
    people = dict(
        (
            await session.execute(
                select(User.id, User.platform_subject).where(User.id.in_([lead_id, *inspector_ids]))
            )
        )
        .tuples()
        .all()
    )
    subjects = [people.get(i) for i in inspector_ids]
    lead = people.get(lead_id) or people.get(primary_id)
    if lead is None or any(subject is None for subject in subjects):
        return None
    _, stage = await next_version(session, task_id)
    return _message(
        task_id,
        stage,
        OutboxKind.ASSIGNMENT,
        f"assignment:{task_id}:{ordinal}",
        lead,
        0,
        {
            "task_ref": task_ref,
            "inspector_subjects": [str(s) for s in subjects],
            "primary_subject": str(people[primary_id]),
            "reason": reason,
            "changed_at": now.isoformat(),
        },
        now,
    )

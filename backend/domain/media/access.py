"""Which files belong to a task, who may read them, and whether a task's evidence is complete.

A task's files are the ones its live records name by digest: a photo's evidence image (and
its original), a signature's image. A file is served to a user who may see the task and
only through a task that names it (or that it was uploaded for), so a digest guessed or
seen elsewhere opens nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import sync
from backend.db.models import InspectionObject, StoredFile, SyncRecord, Task, Upload
from backend.domain.auth.principal import Principal
from backend.domain.sync.store import record_from_row, register_from_json
from backend.domain.tasks.queries import visible_to
from backend.errors import NotFound, TaskNotFound

_DIGEST = re.compile(r"^[0-9a-f]{64}$")

NAMED_FILES: dict[str, dict[str, bool]] = {
    "photo": {"evidence_digest": True, "original_digest": False},
    "signature": {"image_digest": True},
}
"""Per entity, the fields that name a file and whether the record is complete only with it
(DESIGN §5: the evidence image is required; the original arrives on Wi-Fi or when asked)."""


class NamedFile(msgspec.Struct, kw_only=True):
    digest: str
    entity: str
    record_id: uuid.UUID
    field: str
    required: bool
    stored: bool


@dataclass(frozen=True, slots=True)
class _Name:
    digest: str
    entity: str
    record_id: uuid.UUID
    field: str
    required: bool


async def _task_visible(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> None:
    found = await session.scalar(select(Task.id).where(Task.id == task_id, visible_to(principal)))
    if found is None:
        raise TaskNotFound("没有这个任务，或您无权查看")


async def _names(session: AsyncSession, task_id: uuid.UUID) -> list[_Name]:
    rows = await session.execute(
        select(SyncRecord.entity, SyncRecord.id, SyncRecord.fields).where(
            SyncRecord.task_id == task_id,
            SyncRecord.entity.in_(NAMED_FILES),
            SyncRecord.deleted.is_(False),
        )
    )
    names = []
    for entity, record_id, fields in rows:
        for name, required in NAMED_FILES[entity].items():
            raw = fields.get(name)
            value = register_from_json(raw).value if raw else None
            if isinstance(value, str) and _DIGEST.fullmatch(value):
                names.append(_Name(value, entity, record_id, name, required))
    return names


async def file_of_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, digest: str
) -> StoredFile:
    """The stored file ``digest`` of a task the caller may see; 404 for anything else."""
    await _task_visible(session, principal, task_id)
    if not _DIGEST.fullmatch(digest):
        raise NotFound("没有这个文件")
    named = any(n.digest == digest for n in await _names(session, task_id))
    if not named:
        uploaded = await session.scalar(
            select(Upload.id).where(
                Upload.task_id == task_id, Upload.digest == digest, Upload.state == "stored"
            )
        )
        named = uploaded is not None
    stored = await session.get(StoredFile, digest) if named else None
    if stored is None:
        raise NotFound("这个任务没有这个文件")
    return stored


class SignatureState(msgspec.Struct, kw_only=True):
    record_id: uuid.UUID
    signer: str
    """``inspector`` or ``business`` (被检查对象)."""
    signer_user_id: str | None
    refused: bool
    """A recorded refusal to sign (拒签), with its reason and witness in the record."""
    image_digest: str | None
    image_stored: bool
    stale: bool
    """The record's content changed after this signature was made: it no longer covers it."""


class Evidence(msgspec.Struct, kw_only=True):
    """Whether every file the task's records name has arrived (``complete``), and which have not."""

    task_id: uuid.UUID
    complete: bool
    files: list[NamedFile]
    missing: list[str]
    """Digests of required files not yet stored (the phone still has to upload them)."""
    content_hash: str
    """sha256 of the record's canonical content now (what a new signature must bind to)."""
    signatures: list[SignatureState]


async def evidence_of(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> Evidence:
    await _task_visible(session, principal, task_id)
    names = await _names(session, task_id)
    uscc = await session.scalar(
        select(InspectionObject.uscc)
        .join(Task, Task.object_id == InspectionObject.id)
        .where(Task.id == task_id)
    )
    records = [
        record_from_row(row)
        for row in (await session.scalars(select(SyncRecord).where(SyncRecord.task_id == task_id)))
    ]
    current = sync.content_hash(task_id, uscc or "", records)
    digests = {n.digest for n in names}
    stored = (
        set(
            (
                await session.scalars(
                    select(StoredFile.digest).where(StoredFile.digest.in_(digests))
                )
            ).all()
        )
        if digests
        else set()
    )
    files = sorted(
        (
            NamedFile(
                digest=n.digest,
                entity=n.entity,
                record_id=n.record_id,
                field=n.field,
                required=n.required,
                stored=n.digest in stored,
            )
            for n in names
        ),
        key=lambda f: (f.entity, str(f.record_id), f.field),
    )
    missing = sorted({f.digest for f in files if f.required and not f.stored})
    signatures = [
        SignatureState(
            record_id=r.id,
            signer=str(_value(r, "signer")),
            signer_user_id=_value(r, "signer_user_id"),
            refused=_value(r, "refused") is not None,
            image_digest=_value(r, "image_digest"),
            image_stored=_value(r, "image_digest") in stored,
            stale=sync.is_stale(r, current),
        )
        for r in sorted(records, key=lambda r: str(r.id))
        if r.entity == "signature" and not r.deleted
    ]
    return Evidence(
        task_id=task_id,
        complete=not missing,
        files=files,
        missing=missing,
        content_hash=current,
        signatures=signatures,
    )


def _value(record: sync.Record, name: str) -> Any:
    register = record.fields.get(name)
    return register.value if register is not None else None

"""Which files belong to a task, who may read them, and whether a task's evidence is complete.

A task's files are the ones its live records name by digest: a photo's evidence image (and
its original), a signature's image. A file is served to a user who may see the task, only
through a task it was uploaded for, or whose record naming it was made by someone who
uploaded those bytes: a digest guessed or seen elsewhere and written into a record opens
nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import sync
from backend.clock import SHANGHAI
from backend.db.models import (
    InspectionObject,
    MutationLogEntry,
    StoredFile,
    SyncRecord,
    Task,
    Upload,
)
from backend.domain.auth.principal import Principal
from backend.domain.sync.store import record_from_row
from backend.domain.tasks.queries import ensure_visible
from backend.errors import NotFound

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
    exif_mismatch: list[str] = msgspec.field(default_factory=list)
    """For a photo's original: where its EXIF disagrees with what the phone reported."""


@dataclass(frozen=True, slots=True)
class _Name:
    digest: str
    entity: str
    record_id: uuid.UUID
    field: str
    required: bool
    created_by: str | None
    """The id of the mutation that created the record (its author is in the mutation log)."""


async def _records(
    session: AsyncSession, task_id: uuid.UUID, entities: Iterable[str] | None = None
) -> list[sync.Record]:
    """The task's live records (of ``entities`` only, when given)."""
    query = select(SyncRecord).where(SyncRecord.task_id == task_id, SyncRecord.deleted.is_(False))
    if entities is not None:
        query = query.where(SyncRecord.entity.in_(entities))
    return [record_from_row(row) for row in await session.scalars(query)]


def _names(records: Iterable[sync.Record]) -> list[_Name]:
    """The files the records name by digest."""
    names = []
    for record in records:
        for name, required in NAMED_FILES.get(record.entity, {}).items():
            value = record.value(name)
            if isinstance(value, str) and _DIGEST.fullmatch(value):
                names.append(
                    _Name(value, record.entity, record.id, name, required, record.created_by)
                )
    return names


async def _arrived(session: AsyncSession, task_id: uuid.UUID, names: list[_Name]) -> set[str]:
    """The named digests whose bytes arrived for this task (proof of possession, not a name).

    A digest counts when its file was uploaded for this task, or when the record naming it
    was made by someone who uploaded those bytes themselves (the same photo attached to a
    second task is not sent twice). A digest merely written into a record opens nothing.
    """
    digests = {n.digest for n in names}
    if not digests:
        return set()
    arrived = set(
        await session.scalars(
            select(Upload.digest).where(
                Upload.task_id == task_id, Upload.digest.in_(digests), Upload.state == "stored"
            )
        )
    )
    rest = [n for n in names if n.digest not in arrived and n.created_by]
    if rest:
        rows = await session.execute(
            select(MutationLogEntry.mutation_id, MutationLogEntry.user_id).where(
                MutationLogEntry.task_id == task_id,
                MutationLogEntry.mutation_id.in_({n.created_by for n in rest}),
            )
        )
        authors = dict(rows.tuples().all())
        sent = set(
            (
                await session.execute(
                    select(Upload.user_id, Upload.digest).where(
                        Upload.user_id.in_(set(authors.values())),
                        Upload.digest.in_({n.digest for n in rest}),
                        Upload.state == "stored",
                    )
                )
            ).tuples()
        )
        arrived |= {n.digest for n in rest if (authors.get(n.created_by), n.digest) in sent}
    return arrived


async def file_of_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, digest: str
) -> StoredFile:
    """The stored file ``digest`` of a task the caller may see; 404 for anything else."""
    await ensure_visible(session, principal, task_id)
    if not _DIGEST.fullmatch(digest):
        raise NotFound("没有这个文件")
    named = _names(await _records(session, task_id, NAMED_FILES))
    names = [n for n in named if n.digest == digest]
    uploaded = await session.scalar(
        select(Upload.id).where(
            Upload.task_id == task_id, Upload.digest == digest, Upload.state == "stored"
        )
    )
    opens = uploaded is not None or digest in await _arrived(session, task_id, names)
    stored = await session.get(StoredFile, digest) if opens else None
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
    await ensure_visible(session, principal, task_id)
    records = await _records(session, task_id)
    names = _names(records)
    uscc = await session.scalar(
        select(InspectionObject.uscc)
        .join(Task, Task.object_id == InspectionObject.id)
        .where(Task.id == task_id)
    )
    current = sync.content_hash(task_id, uscc or "", records)
    digests = {n.digest for n in names}
    stored_files = (
        {
            f.digest: f
            for f in await session.scalars(select(StoredFile).where(StoredFile.digest.in_(digests)))
        }
        if digests
        else {}
    )
    stored = set(stored_files) & await _arrived(session, task_id, names)
    photos = {r.id: r for r in records if r.entity == "photo"}
    files = sorted(
        (
            NamedFile(
                digest=n.digest,
                entity=n.entity,
                record_id=n.record_id,
                field=n.field,
                required=n.required,
                stored=n.digest in stored,
                exif_mismatch=(
                    exif_mismatch(photos[n.record_id], stored_files[n.digest])
                    if n.field == "original_digest" and n.digest in stored_files
                    else []
                ),
            )
            for n in names
        ),
        key=lambda f: (f.entity, str(f.record_id), f.field),
    )
    missing = sorted({f.digest for f in files if f.required and not f.stored})
    signatures = [
        SignatureState(
            record_id=r.id,
            signer=str(r.value("signer")),
            signer_user_id=r.value("signer_user_id"),
            refused=r.value("refused") is not None,
            image_digest=r.value("image_digest"),
            image_stored=r.value("image_digest") in stored,
            stale=sync.is_stale(r, current),
        )
        for r in sorted(records, key=lambda r: str(r.id))
        if r.entity == "signature"
    ]
    return Evidence(
        task_id=task_id,
        complete=not missing,
        files=files,
        missing=missing,
        content_hash=current,
        signatures=signatures,
    )


TIME_TOLERANCE = timedelta(minutes=2)
PLACE_TOLERANCE = Decimal("0.001")
"""About 100 m: a phone's GPS and the camera's may differ by that much."""


def exif_mismatch(photo: sync.Record, original: StoredFile) -> list[str]:
    """Where the original's EXIF (read on the server) disagrees with what the phone reported."""
    found = []
    reported = photo.value("taken_at")
    exif_time = _instant(original.exif_taken_at)
    if isinstance(reported, str) and exif_time is not None:
        if exif_time.tzinfo is None:  # a camera without an offset writes the local time
            exif_time = exif_time.replace(tzinfo=SHANGHAI)
        phone_time = datetime.fromisoformat(reported.replace("Z", "+00:00"))
        if abs(exif_time - phone_time) > TIME_TOLERANCE:
            found.append(f"拍摄时间不符：手机报告 {reported}，原图 EXIF {original.exif_taken_at}")
    for name, exif_value in (
        ("latitude", original.exif_latitude),
        ("longitude", original.exif_longitude),
    ):
        value = photo.value(name)
        if (
            isinstance(value, str)
            and exif_value
            and abs(Decimal(value) - Decimal(exif_value)) > PLACE_TOLERANCE
        ):
            found.append(f"拍摄位置不符（{name}）：手机报告 {value}，原图 EXIF {exif_value}")
    return found


def _instant(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None

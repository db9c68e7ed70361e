"""A finished inspection in the demo data: one task worked through as a phone would do it.

The primary inspector's demo phone checks in, answers every checklist point (one finding
with its photo), picks the result and a follow-up measure, and both the inspector and the
business sign; the records go through the sync engine like any push, and the photo and the
signature images are checked and stored like any upload. The task's 检查记录表
(``GET /api/v1/tasks/{id}/record-form``) then prints a whole record.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import sync
from backend.clock import Clock
from backend.db.models import (
    Device,
    InspectionObject,
    Role,
    StoredFile,
    SyncRecord,
    Task,
    TaskAssignment,
    TaskStatus,
    Upload,
    User,
)
from backend.domain.audit.service import Actor, Audit
from backend.domain.auth.principal import Principal
from backend.domain.media import images
from backend.domain.media.storage import BlobStore
from backend.domain.sync.services import SyncService
from backend.domain.sync.store import record_from_row
from backend.domain.tasks.queries import task_items

DEMO_DEVICE = uuid.UUID("00000000-0000-4000-8000-00000000d3e0")
"""The primary inspector's demo phone (a fixed id: the demo record is made once)."""


def _signature(strokes: list[tuple[int, int]]) -> bytes:
    img = Image.new("RGB", (360, 120), "white")
    ImageDraw.Draw(img).line(strokes, fill=(20, 20, 60), width=6, joint="curve")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _photo() -> bytes:
    """A stand-in for a site photo: an extinguisher's gauge in the red."""
    img = Image.new("RGB", (1600, 1200), (188, 196, 204))
    draw = ImageDraw.Draw(img)
    draw.rectangle((620, 260, 980, 1080), fill=(200, 30, 30))
    draw.ellipse((680, 120, 920, 360), fill=(240, 240, 240), outline=(40, 40, 40), width=12)
    draw.line((800, 240, 720, 300), fill=(200, 0, 0), width=14)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def _store(
    store: BlobStore, data: bytes, session: AsyncSession, task: Task, user: User, now: datetime
) -> str:
    """The file checked and stored as an upload from the demo phone would leave it."""
    digest = hashlib.sha256(data).hexdigest()
    with tempfile.NamedTemporaryFile(delete=False, suffix=".demo") as f:
        f.write(data)
    path = Path(f.name)
    facts = images.examine(path, max_pixels=64_000_000)
    store.put(digest, path)
    session.add(
        StoredFile(
            digest=digest,
            size=len(data),
            media_type=facts.media_type,
            width=facts.width,
            height=facts.height,
            has_thumbnail=False,
            stored_at=now,
            first_user_id=user.id,
        )
    )
    session.add(
        Upload(
            id=uuid.uuid4(),
            user_id=user.id,
            device_id=DEMO_DEVICE,
            task_id=task.id,
            length=len(data),
            offset=len(data),
            digest=digest,
            metadata_={"sha256": digest, "task_id": str(task.id)},
            state="stored",
            created_at=now,
            expires_at=now,
            ended_at=now,
        )
    )
    return digest


async def seed_demo_record(session: AsyncSession, clock: Clock, store: BlobStore) -> str | None:
    """Work one in-progress task through; return its code (None when there is none to work)."""
    now = clock.now()
    row = (
        await session.execute(
            select(Task, User)
            .join(TaskAssignment, TaskAssignment.task_id == Task.id)
            .join(User, User.id == TaskAssignment.user_id)
            .where(Task.status == TaskStatus.IN_PROGRESS, TaskAssignment.is_primary.is_(True))
            .order_by(Task.code)
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    task, inspector = row
    session.add(
        Device(id=DEMO_DEVICE, user_id=inspector.id, name=f"{inspector.display_name}的手机")
    )
    await session.flush()
    principal = Principal(user_id=inspector.id, device_id=DEMO_DEVICE, role=Role.INSPECTOR)

    photo = _store(store, _photo(), session, task, inspector, now)
    inspector_ink = _store(
        store, _signature([(20, 90), (90, 30), (160, 80), (330, 40)]), session, task, inspector, now
    )
    partner_ink = _store(
        store,
        _signature([(15, 50), (100, 95), (190, 25), (300, 85), (345, 45)]),
        session,
        task,
        inspector,
        now,
    )
    business_ink = _store(
        store,
        _signature([(30, 60), (120, 100), (210, 30), (340, 70)]),
        session,
        task,
        inspector,
        now,
    )

    seq = 0
    ms = int(now.timestamp() * 1000) - 3_600_000

    def mutation(
        kind: str, entity: str, entity_id: uuid.UUID, payload: dict[str, Any]
    ) -> msgspec.Raw:
        nonlocal seq
        seq += 1
        return msgspec.Raw(
            msgspec.json.encode(
                {
                    "id": str(uuid.uuid4()),
                    "client_id": str(DEMO_DEVICE),
                    "seq": seq,
                    "hlc": f"{ms + seq * 1000:015d}.000000.{DEMO_DEVICE}",
                    "kind": kind,
                    "entity": entity,
                    "entity_id": str(entity_id),
                    "task_id": str(task.id),
                    "payload": payload,
                    **({"base_versions": dict.fromkeys(payload, 0)} if kind == "set" else {}),
                }
            )
        )

    checked_at = now.replace(microsecond=0).isoformat()
    points = [p for item in (await task_items(session, [task.id]))[task.id] for p in item.checklist]
    mutations = [
        mutation(
            "create",
            "check_in",
            uuid.uuid4(),
            {
                "at": checked_at,
                "latitude": "25.952300",
                "longitude": "115.415600",
                "accuracy_m": 12,
                "inspector_id": str(inspector.id),
            },
        ),
        mutation(
            "create",
            "photo",
            (photo_id := uuid.uuid4()),
            {
                "evidence_digest": photo,
                "taken_at": checked_at,
                "latitude": "25.952300",
                "longitude": "115.415600",
            },
        ),
    ]
    for i, point in enumerate(points):
        finding = i == 0
        mutations.append(
            mutation(
                "set",
                "check_item",
                point.check_item_id,
                {
                    "conforms": not finding,
                    "problem_text": point.default_problem_text if finding else None,
                },
            )
        )
        if finding:
            mutations.append(
                mutation(
                    "create",
                    "finding",
                    uuid.uuid4(),
                    {
                        "check_item_id": str(point.check_item_id),
                        "text": point.default_problem_text,
                        "photo_ids": [str(photo_id)],
                    },
                )
            )
    result_id = sync.server_record_id(task.id, "result")
    mutations += [
        mutation(
            "set",
            "result",
            result_id,
            {
                "categories": ["E"],
                "verification_methods": ["on_site", "documents"],
                "requested_documents": ["business_license"],
                "checked_at": checked_at,
                "business_remarks": "已知悉，当场整改",
            },
        ),
        mutation(
            "create",
            "measure",
            uuid.uuid4(),
            {"code": "rectify", "text": "责令当场整改，三日内复查"},
        ),
        mutation(
            "create",
            "measure",
            (notify_id := uuid.uuid4()),
            {"code": "notify_department", "text": "从业人员健康证明过期，抄告卫生健康部门"},
        ),
        mutation(
            "create",
            "referral",
            uuid.uuid4(),
            {
                "kind": "抄告",
                "target": "县卫生健康委员会",
                "findings": "两名从业人员健康证明已过期，仍在岗从事直接入口食品工作",
                "measure_id": str(notify_id),
            },
        ),
    ]
    audit = Audit(
        session,
        clock,
        Actor(role=Role.INSPECTOR.value, user_id=inspector.id, device_id=DEMO_DEVICE),
    )
    service = SyncService(session, clock, audit)
    envelope: dict[str, Any] = {
        "protocol_version": 1,
        "app_version": "demo",
        "client_id": str(DEMO_DEVICE),
    }
    await service.push(principal, sync.PushRequest(**envelope, mutations=mutations))

    # both sign what is now recorded
    records = [
        record_from_row(r)
        for r in await session.scalars(select(SyncRecord).where(SyncRecord.task_id == task.id))
    ]
    uscc = await session.scalar(
        select(InspectionObject.uscc).where(InspectionObject.id == task.object_id)
    )
    content_hash = sync.content_hash(task.id, uscc or "", records)
    partners = await session.scalars(
        select(TaskAssignment.user_id).where(
            TaskAssignment.task_id == task.id, TaskAssignment.user_id != inspector.id
        )
    )
    signed = [
        mutation(
            "create",
            "signature",
            uuid.uuid4(),
            {
                "signer": "inspector",
                "signer_user_id": str(who),
                "image_digest": ink,
                "content_hash": content_hash,
                "signed_at": checked_at,
            },
        )
        for who, ink in zip([inspector.id, *partners], [inspector_ink, partner_ink], strict=False)
    ] + [
        mutation(
            "create",
            "signature",
            uuid.uuid4(),
            {
                "signer": "business",
                "signer_name": "店长",
                "image_digest": business_ink,
                "content_hash": content_hash,
                "signed_at": checked_at,
            },
        ),
    ]
    await service.push(principal, sync.PushRequest(**envelope, mutations=signed))
    return str(task.code)

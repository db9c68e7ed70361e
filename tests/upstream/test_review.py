"""A team lead reviews a submitted record: approval queues its forwarding in the same
transaction (files, then the record, then its referrals), an incomplete record is refused with
what is missing, a return reaches the phones with its reason, and nobody else can do either."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from backend.db.models import (
    AuditEvent,
    OutboxKind,
    OutboxMessage,
    Task,
    TaskAssignment,
    TaskStatus,
    User,
)
from tests.upstream.conftest import Forwarding, submitted_copy

pytestmark = pytest.mark.anyio


async def _pull(f: Forwarding, username: str) -> dict[str, object]:
    device = uuid.uuid4()
    headers = await f.login(username, device)
    r = await f.backend.post(
        "/api/v1/sync/pull",
        json={"protocol_version": 1, "app_version": "test", "client_id": str(device)},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_approval_queues_the_files_then_the_record_then_its_referrals(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    answer = await f.approve()
    assert answer["status"] == "approved" and answer["record_version"] == 1
    messages = await f.outbox()
    assert len(messages) == answer["messages"]
    kinds = [(m.stage, m.kind) for m in messages]
    photos = [m for m in messages if m.kind is OutboxKind.PHOTO]
    record = next(m for m in messages if m.kind is OutboxKind.RECORD)
    referrals = [m for m in messages if m.kind is OutboxKind.REFERRAL]
    assert len(photos) == 4  # the evidence photo and the three signature images
    assert len(referrals) == 1
    assert {s for s, k in kinds if k is OutboxKind.PHOTO} == {1}
    assert record.stage == 2 and referrals[0].stage == 3
    assert record.idempotency_key == f"record:{f.task_id}:v1"
    assert sorted(record.payload["photos"]) == sorted(p.payload["sha256"] for p in photos)
    assert record.payload["record"]["record_hash"]
    assert referrals[0].payload["referral"]["kind"] == "抄告"
    assert {m.subject for m in messages} == {record.subject} and record.subject
    assert await f.status() == "approved"
    async with f.db() as session:
        approved = await session.scalar(
            select(func.count()).where(AuditEvent.action == "record_approved")
        )
    assert approved == 1
    pulled = await _pull(f, f.inspector)
    statuses = {t["id"]: t["status"] for t in pulled["tasks"]}  # type: ignore[index, union-attr]
    assert statuses[str(f.task_id)] == "approved"


async def test_an_incomplete_record_is_refused_with_what_is_missing(forwarding: Forwarding) -> None:
    f = forwarding
    async with f.db() as session, session.begin():  # back on the phone, before the submit
        task = await session.get(Task, f.task_id)
        assert task is not None
        task.status = TaskStatus.IN_PROGRESS
    device = uuid.uuid4()
    headers = await f.login(f.inspector, device)  # a push comes from the caller's own device
    missing = "ab" * 32
    r = await f.backend.post(
        "/api/v1/sync/push",
        json={
            "protocol_version": 1,
            "app_version": "test",
            "client_id": str(device),
            "mutations": [
                {
                    "id": str(uuid.uuid4()),
                    "client_id": str(device),
                    "seq": 1,
                    "hlc": f"{1_764_468_000_000:015d}.000000.{device}",
                    "kind": "create",
                    "entity": "photo",
                    "entity_id": str(uuid.uuid4()),
                    "task_id": str(f.task_id),
                    "payload": {"evidence_digest": missing, "taken_at": "2026-11-30T01:00:00Z"},
                }
            ],
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["outcome"] == "applied", r.text
    await submitted_copy(f.db, f.task_id)  # submitted before the photo was uploaded
    lead = await f.login(f.lead)
    r = await f.backend.post(f"/api/v1/team/tasks/{f.task_id}/approve", json={}, headers=lead)
    if r.status_code == 200:
        pytest.fail("a record with a missing file was approved")
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "record-incomplete"
    assert problem["missing_files"] == [missing]
    assert len(problem["stale_signatures"]) == 3  # the photo changed what they had signed
    assert await f.outbox() == []
    assert await f.status() == "submitted"


async def test_a_return_reaches_the_phones_with_its_reason(forwarding: Forwarding) -> None:
    f = forwarding
    lead = await f.login(f.lead)
    r = await f.backend.post(f"/api/v1/team/tasks/{f.task_id}/return", json={}, headers=lead)
    assert r.status_code == 400  # a return needs its reason
    reason = "问题描述不完整，请补充健康证明过期人员姓名"
    r = await f.backend.post(
        f"/api/v1/team/tasks/{f.task_id}/return", json={"reason": reason}, headers=lead
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "returned"
    pulled = await _pull(f, f.inspector)
    task = next(t for t in pulled["tasks"] if t["id"] == str(f.task_id))  # type: ignore[union-attr, index]
    assert task["status"] == "returned" and task["review_note"] == reason
    assert await f.outbox() == []
    again = await f.backend.post(f"/api/v1/team/tasks/{f.task_id}/approve", json={}, headers=lead)
    assert again.status_code == 409 and again.json()["code"] == "task-not-reviewable"


async def test_only_the_tasks_own_lead_reviews_and_only_once(forwarding: Forwarding) -> None:
    f = forwarding
    for someone, expected in ((f.inspector, 403), ("lead02", 404), ("ops01", 403)):
        if someone == f.lead:
            continue
        headers = await f.login(someone)
        for step, body in (("approve", {}), ("return", {"reason": "不应被接受的退回"})):
            r = await f.backend.post(
                f"/api/v1/team/tasks/{f.task_id}/{step}", json=body, headers=headers
            )
            assert r.status_code == expected, (someone, step, r.text)
    unknown = await f.backend.post(
        f"/api/v1/team/tasks/{uuid.uuid4()}/approve", json={}, headers=await f.login(f.lead)
    )
    assert unknown.status_code == 404
    assert await f.outbox() == []
    await f.approve()
    twice = await f.backend.post(
        f"/api/v1/team/tasks/{f.task_id}/approve", json={}, headers=await f.login(f.lead)
    )
    assert twice.status_code == 409 and twice.json()["code"] == "task-not-reviewable"
    async with f.db() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == len(
            await f.outbox()
        )
        task = await session.get(Task, f.task_id)
        assert task is not None and task.status is TaskStatus.APPROVED


async def test_the_outbox_is_for_operators_only(forwarding: Forwarding) -> None:
    f = forwarding
    await f.approve()
    for someone in (f.inspector, f.lead):
        r = await f.backend.get("/api/v1/ops/outbox", headers=await f.login(someone))
        assert r.status_code == 403
    ops = await f.login("ops01")
    page = (await f.backend.get("/api/v1/ops/outbox", headers=ops)).json()
    assert page["summary"]["pending"] == len(await f.outbox())
    assert page["summary"]["blocked"] == 2  # the record and its referral wait for the files
    assert (
        await f.backend.get("/api/v1/ops/outbox?state=nonsense", headers=ops)
    ).status_code == 400
    some = page["messages"][0]["id"]
    r = await f.backend.post(
        f"/api/v1/ops/outbox/{some}/retry", json={"reason": "平台已修复"}, headers=ops
    )
    assert r.status_code == 422 and "死信" in r.json()["detail"]  # only a dead letter


async def test_a_lead_does_not_approve_a_record_they_inspected(forwarding: Forwarding) -> None:
    """A second pair of eyes: the lead assigned to the task as an inspector may not approve it."""
    f = forwarding
    async with f.db() as session, session.begin():
        lead = await session.scalar(select(User).where(User.username == f.lead))
        assert lead is not None
        session.add(TaskAssignment(task_id=f.task_id, user_id=lead.id, is_primary=False))
    r = await f.backend.post(
        f"/api/v1/team/tasks/{f.task_id}/approve", json={}, headers=await f.login(f.lead)
    )
    assert r.status_code == 403 and r.json()["code"] == "own-record", r.text
    assert await f.outbox() == [] and await f.status() == "submitted"

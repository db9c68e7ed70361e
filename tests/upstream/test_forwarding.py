"""Forwarding to the platform: at least once, exactly-once in effect, in order per task, through
401s, lost answers, a day-long outage, a worker that dies at the worst moment, and a record the
platform refuses for good — each on the injected clock, each bounded in rounds."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.db.models import (
    AuditEvent,
    OutboxMessage,
    OutboxState,
    Task,
    TaskAssignment,
    TaskStatus,
    User,
)
from backend.domain.upstream.worker import Forwarder, RoundReport
from tests.upstream.conftest import Forwarding, submitted_copy

pytestmark = pytest.mark.anyio
MAX_ROUNDS = 20


async def drain(f: Forwarding, worker: Forwarder | None = None) -> list[RoundReport]:
    """Rounds until nothing more is due now (bounded)."""
    reports = []
    for _ in range(MAX_ROUNDS):
        report = await (worker or f.worker).run_once()
        reports.append(report)
        if not report.claimed:
            return reports
    pytest.fail(f"the outbox did not drain in {MAX_ROUNDS} rounds")


async def _pulled_status(f: Forwarding) -> str:
    device = uuid.uuid4()
    r = await f.backend.post(
        "/api/v1/sync/pull",
        json={"protocol_version": 1, "app_version": "test", "client_id": str(device)},
        headers=await f.login(f.inspector, device),
    )
    assert r.status_code == 200, r.text
    return str(next(t["status"] for t in r.json()["tasks"] if t["id"] == str(f.task_id)))


def _keys(received: dict[str, Any], kind: str) -> list[str]:
    return sorted(m["idempotency_key"] for m in received[kind])


async def _second_submitted_task(f: Forwarding) -> uuid.UUID:
    """Another task of the same lead, submitted with nothing captured (a record with no files)."""
    async with f.db() as session:
        task = await session.get(Task, f.task_id)
        assert task is not None
        other = await session.scalar(
            select(Task.id)
            .where(
                Task.team_id == task.team_id,
                Task.id != f.task_id,
                Task.status.in_([TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS]),
            )
            .order_by(Task.code)
            .limit(1)
        )
    assert other is not None
    await submitted_copy(f.db, other)
    return other


async def test_an_approved_record_reaches_the_platform_once_photos_first(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    approved = await f.approve()
    await drain(f)
    received = await f.received()
    messages = await f.outbox()
    assert all(m.state is OutboxState.SENT for m in messages)
    assert len(received["photos"]) == 4 and len(received["records"]) == 1
    assert len(received["referrals"]) == 1
    assert approved["messages"] == 6
    assert set(received["attempts"].values()) == {1}  # nothing sent twice
    record = received["records"][0]
    assert record["record_key"] == f"record:{f.task_id}:v1"
    assert sorted(record["photos"]) == sorted(p["sha256"] for p in received["photos"])
    assert await f.status() == "forwarded"
    assert await _pulled_status(f) == "forwarded"  # the phones see it
    assert await f.worker.check_publication() == 1
    assert await f.status() == "published"
    assert await _pulled_status(f) == "published"
    async with f.db() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert {"record_approved", "record_forwarded", "record_published"} <= set(actions)


async def test_a_rejected_token_is_renewed_once(forwarding: Forwarding) -> None:
    f = forwarding
    await f.approve()
    await f.faults(unauthorized=1)
    before = f.worker.client.token_requests
    await drain(f)
    assert f.worker.client.token_requests == before + 2  # the first, and one renewal after the 401
    received = await f.received()
    assert len(received["records"]) == 1 and len(received["photos"]) == 4


async def test_a_lost_answer_is_sent_again_with_the_same_key_and_stored_once(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    await f.approve()
    await f.faults(fail_after_store=2)
    await drain(f)
    pending = [m for m in await f.outbox() if m.state is OutboxState.PENDING]
    assert len(pending) >= 2  # two photos were stored, but the worker heard a 500
    for _ in range(6):
        f.clock.advance(timedelta(minutes=1))
        await drain(f)
    assert all(m.state is OutboxState.SENT for m in await f.outbox())
    received = await f.received()
    assert len(received["photos"]) == 4  # stored once each
    assert sorted(received["attempts"].values()).count(2) == 2


async def test_a_day_long_outage_delays_but_loses_nothing(forwarding: Forwarding) -> None:
    f = forwarding
    await f.approve()
    await f.faults(outage_until=(f.clock.now() + timedelta(hours=24)).isoformat())
    first = await drain(f)
    assert first[0].retried == 4 and first[0].dead == 0  # the photos met the outage
    seen = dict((await f.received())["attempts"])
    for _ in range(23):  # an hour at a time, nothing is attempted before Retry-After
        f.clock.advance(timedelta(hours=1))
        assert (await f.worker.run_once()).claimed == 0
    assert (await f.received())["attempts"] == seen
    f.clock.advance(timedelta(hours=1, seconds=31))  # the outage is over (and the spread)
    await drain(f)
    messages = await f.outbox()
    assert all(m.state is OutboxState.SENT for m in messages)
    assert all(m.attempts == 0 for m in messages)  # a wait the platform asked for is no failure
    received = await f.received()
    assert len(received["photos"]) == 4 and len(received["records"]) == 1
    assert len(received["referrals"]) == 1
    assert all(n <= 2 for n in received["attempts"].values())


async def test_a_worker_killed_after_the_platform_accepted_is_replaced_without_duplicates(
    forwarding: Forwarding, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = forwarding
    await f.approve()

    class Killed(BaseException):
        pass

    async def die(*_: object) -> None:
        raise Killed  # the process dies between the platform's 201 and its own bookkeeping

    with monkeypatch.context() as patched:
        patched.setattr(Forwarder, "_settle", die)
        with pytest.raises(Killed):
            await f.worker.run_once()
    assert len((await f.received())["photos"]) == 4
    assert (await f.worker.run_once()).claimed == 0  # the dead worker's lease still holds
    f.clock.advance(f.worker.policy.lease)
    await drain(f)
    received = await f.received()
    assert len(received["photos"]) == 4 and len(received["records"]) == 1  # stored once
    assert sorted(received["attempts"].values()).count(2) == 4  # the photos came twice
    assert all(m.state is OutboxState.SENT for m in await f.outbox())


async def test_a_record_refused_for_good_is_dead_lettered_alone_and_retried_by_an_operator(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    other = await _second_submitted_task(f)
    await f.approve()
    await f.approve(other)
    refused = f"record:{f.task_id}:v1"
    await f.faults(refuse_records=[refused])
    await drain(f)
    by_key = {m.idempotency_key: m for m in await f.outbox()}
    dead = by_key[refused]
    assert dead.state is OutboxState.DEAD and dead.last_status == 422 and dead.last_error
    assert by_key[f"record:{other}:v1"].state is OutboxState.SENT  # the rest went on
    referral = next(m for k, m in by_key.items() if k.startswith(f"{refused}:referral:"))
    assert referral.state is OutboxState.PENDING  # held back behind its own record only
    assert await f.status(other) == "forwarded" and await f.status() == "approved"

    ops = await f.login("ops01")
    page = (await f.backend.get("/api/v1/ops/outbox?state=dead", headers=ops)).json()
    assert [m["idempotency_key"] for m in page["messages"]] == [refused]
    assert page["summary"]["dead"] == 1 and page["summary"]["blocked"] == 1
    await f.platform.delete("/control/faults")
    r = await f.backend.post(
        f"/api/v1/ops/outbox/{dead.id}/retry", json={"reason": "平台已更正数据"}, headers=ops
    )
    assert r.status_code == 200, r.text
    await drain(f)
    assert all(m.state is OutboxState.SENT for m in await f.outbox())
    assert await f.status() == "forwarded"
    async with f.db() as session:
        retried = (
            await session.scalars(
                select(AuditEvent.reason).where(AuditEvent.action == "record_retried")
            )
        ).all()
        dead_lettered = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "record_dead_lettered")
            )
        ).all()
    assert retried == ["平台已更正数据"] and len(dead_lettered) == 1


async def test_failures_without_end_become_a_dead_letter_after_n_attempts(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    other = await _second_submitted_task(f)  # one record, no files: one message
    await f.approve(other)
    await f.faults(error_rate=1.0)
    attempts = f.worker.policy.max_attempts
    for _ in range(attempts):
        await f.worker.run_once()
        f.clock.advance(f.worker.policy.backoff_cap)
    [message] = await f.outbox()
    assert message.state is OutboxState.DEAD and message.attempts == attempts
    assert message.last_status == 500
    assert (await f.received())["attempts"][message.idempotency_key] == attempts


async def test_two_workers_share_the_outbox_and_deliver_nothing_twice(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    other = await _second_submitted_task(f)
    await f.approve()
    await f.approve(other)
    a, b = (
        f.worker,
        Forwarder(
            f.db,
            f.worker.client,
            f.ctx.uploads.store,
            f.clock,
            f.worker.policy,
            name="second",
            postgres=f.worker.postgres,
        ),
    )
    for _ in range(MAX_ROUNDS):
        first, second = await asyncio.gather(a.run_once(), b.run_once())
        if not first.claimed and not second.claimed:
            break
    received = await f.received()
    assert set(received["attempts"].values()) == {1}
    assert len(received["records"]) == 2
    async with f.db() as session:
        unsent = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.state != OutboxState.SENT).limit(1)
        )
    assert unsent is None


async def test_a_correction_after_forwarding_goes_as_a_new_version_with_its_own_keys(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    await f.approve()
    await drain(f)
    lead = await f.login(f.lead)
    early = await f.backend.post(
        f"/api/v1/team/tasks/{uuid.uuid4()}/reopen", json={"reason": "无此任务"}, headers=lead
    )
    assert early.status_code == 404
    reason = "平台反馈：检查日期填写有误，请更正"
    r = await f.backend.post(
        f"/api/v1/team/tasks/{f.task_id}/reopen", json={"reason": reason}, headers=lead
    )
    assert r.status_code == 200 and r.json()["status"] == "reopened", r.text
    assert await _pulled_status(f) == "reopened"

    # the primary inspector's phone submits the corrected record again
    device = uuid.uuid4()
    headers = await f.login(f.inspector, device)
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
                    "hlc": f"{int(f.clock.now().timestamp() * 1000):015d}.000000.{device}",
                    "kind": "transition",
                    "entity": "task",
                    "entity_id": str(f.task_id),
                    "task_id": str(f.task_id),
                    "payload": {"to": "submitted"},
                }
            ],
        },
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["results"][0]["outcome"] == "applied", r.text
    second = await f.approve()
    assert second["record_version"] == 2
    await drain(f)
    received = await f.received()
    keys = sorted(r["record_key"] for r in received["records"])
    assert keys == [f"record:{f.task_id}:v1", f"record:{f.task_id}:v2"]
    assert set(received["attempts"].values()) == {1}  # each version's messages sent once
    assert await f.status() == "forwarded"
    twice = await f.backend.post(
        f"/api/v1/team/tasks/{f.task_id}/reopen",
        json={"reason": reason},
        headers=await f.login(f.inspector),
    )
    assert twice.status_code == 403


async def test_a_leads_reassignment_is_reported_to_the_platform_on_the_leads_behalf(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    async with f.db() as session:
        people = (
            await session.execute(
                select(TaskAssignment.user_id, TaskAssignment.is_primary, User.platform_subject)
                .join(User, User.id == TaskAssignment.user_id)
                .where(TaskAssignment.task_id == f.task_id)
            )
        ).all()
        lead_subject = await session.scalar(
            select(User.platform_subject).where(User.username == f.lead)
        )
    other = next(user for user, primary, _ in people if not primary)
    r = await f.backend.put(
        f"/api/v1/team/tasks/{f.task_id}/assignment",
        json={
            "inspector_ids": [str(user) for user, _, _ in people],
            "primary_inspector_id": str(other),
            "reason": "主检人员调休，由协查人员担任主检",
        },
        headers=await f.login(f.lead),
    )
    assert r.status_code == 200, r.text
    [message] = await f.outbox()
    assert message.kind.value == "assignment" and message.subject == lead_subject
    await drain(f)
    [report] = (await f.received())["assignments"]
    assert report["task_ref"] == str(f.task_id)
    assert report["primary_subject"] == next(s for user, _, s in people if user == other)
    assert sorted(report["inspector_subjects"]) == sorted(s for _, _, s in people)
    assert report["reason"] == "主检人员调休，由协查人员担任主检"
    # the record that follows goes on behalf of the new primary inspector
    await f.approve()
    record = next(m for m in await f.outbox() if m.kind.value == "record")
    assert record.subject == report["primary_subject"]

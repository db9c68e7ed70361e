"""Adversarial review of the task import (review 2): each test shows one defect.

They reuse the feed stand-in and the ``env`` fixture of ``test_import.py``.
"""

from __future__ import annotations

from datetime import date

import anyio
import pytest
from sqlalchemy import select, update

from backend.db.models import AuditEvent, Task, TaskStatus
from tests.upstream.test_import import Env, env, feed_task
from tests.world import login

__all__ = ["env"]  # the fixture, imported for pytest

pytestmark = pytest.mark.anyio


async def _start_work(env: Env, ref: str) -> None:
    async with env.db() as session, session.begin():
        await session.execute(
            update(Task).where(Task.platform_ref == ref).values(status=TaskStatus.IN_PROGRESS)
        )


# 1. a due date the rules refuse is applied all the same ------------------------------------


@pytest.mark.parametrize(
    ("case", "subjects", "first_due", "new_due"),
    [
        # nothing captured: the whole change is refused (past the plan's end), yet due_on moves
        ("untouched-plan-end", ["sub-amr_a", "sub-amr_b"], "2026-12-20", "2027-01-15"),
        # nothing captured: 执法证 of expired_e (valid until 2026-12-10) not valid on the new date
        ("untouched-certificate", ["sub-amr_a", "sub-expired_e"], "2026-12-05", "2026-12-20"),
        # work under way: the due date is taken without any check at all
        ("in-progress-plan-end", ["sub-amr_a", "sub-amr_b"], "2026-12-20", "2027-01-15"),
    ],
)
async def test_a_due_date_that_breaks_a_rule_is_not_applied(
    env: Env, case: str, subjects: list[str], first_due: str, new_due: str
) -> None:
    with anyio.fail_after(60):
        env.feed.put("P-1", 1, feed_task("PT-1", subjects, due_on=first_due))
        assert (await env.run()).assigned == 1
        if case.startswith("in-progress"):
            await _start_work(env, "P-1")
        env.feed.put("P-1", 2, feed_task("PT-1", subjects, due_on=new_due))
        await env.run()
        task = await env.task("P-1")
        plan_end = date(2026, 12, 31)
        # the rule (plan's end / valid 执法证 on the due date) must still hold for the task
        assert str(task.due_on) == first_due, (
            f"{case}: due_on moved to {task.due_on} although the rules refuse it "
            f"(plan ends {plan_end}); pending={task.platform_change_pending}"
        )


# 2. a withdrawn task the platform activates again stays withdrawn, silently ----------------


async def test_a_task_the_platform_reactivates_is_not_silently_left_withdrawn(env: Env) -> None:
    with anyio.fail_after(60):
        body = feed_task("PT-1", ["sub-amr_a", "sub-amr_b"])
        env.feed.put("P-1", 1, body)
        await env.run()
        env.feed.put("P-1", 2, None, state="withdrawn")
        assert (await env.run()).withdrawn == 1
        env.feed.put("P-1", 3, body)  # the platform takes the withdrawal back
        report = await env.run()
        task = await env.task("P-1")
        async with env.db() as session:
            events = (
                await session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "task_imported")
                )
            ).all()
        versions = [(e.details or {}).get("version") for e in events]
        assert task.platform_version == 3
        # the platform's task is active again: the inspectors should have it back, or at the
        # very least the lead must be told; here it is dropped without a trace
        assert task.status is not TaskStatus.WITHDRAWN or task.platform_change_pending, (
            f"status={task.status}, pending={task.platform_change_pending}, report={report}"
        )
        assert 3 in versions, f"version 3 not audited: {versions}"


# 3. a pending platform change is never cleared ----------------------------------------------


async def test_a_pending_change_the_platform_takes_back_is_no_longer_pending(env: Env) -> None:
    with anyio.fail_after(60):
        body = feed_task("PT-1", ["sub-amr_a", "sub-amr_b"])
        env.feed.put("P-1", 1, body)
        await env.run()
        await _start_work(env, "P-1")
        env.feed.put("P-1", 2, feed_task("PT-1", ["sub-amr_a", "sub-amr_c"]))
        assert (await env.run()).flagged == 1
        env.feed.put("P-1", 3, body)  # the platform reverts its change
        await env.run()
        task = await env.task("P-1")
        assert task.platform_version == 3
        r = await env.client.get("/api/v1/team/imports", headers=await login(env.client, "lead1"))
        assert task.platform_change_pending is None, task.platform_change_pending
        assert r.json()["pending_changes"] == []


async def test_a_pending_change_applied_by_a_later_version_is_no_longer_pending(
    env: Env,
) -> None:
    with anyio.fail_after(60):
        env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"], due_on="2026-12-05"))
        await env.run()
        # v2 names an inspector whose 执法证 ends before the due date: refused, flagged
        env.feed.put("P-1", 2, feed_task("PT-1", ["sub-amr_a", "sub-expired_e"]))
        assert (await env.run()).flagged == 1
        # v3 is valid and applied whole
        env.feed.put("P-1", 3, feed_task("PT-1", ["sub-amr_a", "sub-amr_c"]))
        assert (await env.run()).updated == 1
        task = await env.task("P-1")
        assert task.platform_change_pending is None, task.platform_change_pending


# 4. a held task re-checked into an unresolvable version keeps stale facts, released as such -


async def _held_then_unresolvable(env: Env) -> tuple[Task, Task]:
    env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-nobody"]))
    await env.run()
    before = await env.task("P-1")
    assert before.status is TaskStatus.HELD
    # v2: an unlisted item and an earlier due date -> cannot become a task here
    env.feed.put(
        "P-1",
        2,
        feed_task("PT-1", ["sub-amr_a", "sub-nobody"], items=["GONE-1"], due_on="2026-12-10"),
    )
    await env.run()
    held = await env.task("P-1")
    assert held.status is TaskStatus.HELD and "清单" in (held.hold_reason or "")
    return before, held


async def test_a_held_tasks_deadlines_follow_the_due_date_an_unresolvable_version_sets(
    env: Env,
) -> None:
    with anyio.fail_after(60):
        before, held = await _held_then_unresolvable(env)
        assert str(held.due_on) == "2026-12-10"
        assert held.due_at != before.due_at, "due_on moved to 12-10 but due_at still says 12-20"


async def test_a_held_task_whose_new_version_cannot_be_taken_is_not_released_stale(
    env: Env,
) -> None:
    with anyio.fail_after(60):
        _, held = await _held_then_unresolvable(env)
        # the lead can only choose inspectors; the platform's v2 (an unlisted item) cannot be
        # fixed that way, so releasing must not turn the stale v1 checklist into a live task
        r = await env.client.post(
            f"/api/v1/team/tasks/{held.id}/release",
            json={
                "inspector_ids": [str(env.w["amr_a"]), str(env.w["amr_b"])],
                "primary_inspector_id": str(env.w["amr_a"]),
                "reason": "平台账号未关联，由本组人员替换",
            },
            headers=await login(env.client, "lead1"),
        )
        assert r.status_code in (409, 422), r.text


# 5. one item the database cannot store blocks the whole feed, forever ----------------------


@pytest.mark.parametrize(
    ("ref", "version"),
    [("P-0", 2**63), ("P-\x00", 1)],
    ids=["version-beyond-bigint", "nul-in-task-ref"],
)
async def test_one_unstorable_item_does_not_block_the_feed(
    env: Env, ref: str, version: int
) -> None:
    with anyio.fail_after(60):
        env.feed.put("P-0", 1, feed_task("PT-0", ["sub-amr_a", "sub-amr_b"]))
        await env.run()
        # valid by the feed's contract as decoded (version >= 0, a task_ref of 1-200 chars)
        env.feed.put(ref, version, feed_task("PT-9", ["sub-amr_a", "sub-amr_b"]))
        env.feed.put("P-2", 1, feed_task("PT-2", ["sub-amr_a", "sub-amr_b"]))
        try:
            report = await env.run()
        except Exception as exc:  # what the worker logs, round after round
            pytest.fail(f"the round failed on one item ({exc!r:.300}); P-2 is never imported")
        assert report.error is None, report
        assert (await env.task("P-2")).status is TaskStatus.ASSIGNED


async def test_a_nul_in_a_platform_subject_does_not_block_the_feed(env: Env) -> None:
    with anyio.fail_after(60):
        env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-\x00x"]))
        env.feed.put("P-2", 1, feed_task("PT-2", ["sub-amr_a", "sub-amr_b"]))
        try:
            report = await env.run()
        except Exception as exc:
            pytest.fail(f"the round failed on one item ({exc!r:.300}); P-2 is never imported")
        assert report.error is None, report
        assert (await env.task("P-2")).status is TaskStatus.ASSIGNED


# 6. two importers on a first run: the loser's cursor insert fails ---------------------------


async def test_two_importers_at_once_on_the_first_run_both_finish(env: Env) -> None:
    with anyio.fail_after(60):
        for n in range(3):
            env.feed.put(f"P-{n}", 1, feed_task(f"PT-{n}", ["sub-amr_a", "sub-amr_b"]))
        errors: list[BaseException] = []

        async def one() -> None:
            try:
                await env.run()
            except Exception as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(one)
        assert not errors, f"{errors[0]!r:.300}"


# a withdrawal over work under way is flagged, and the lead acknowledges it ------------------


async def test_a_withdrawal_over_work_under_way_is_flagged_and_the_lead_acknowledges_it(
    env: Env,
) -> None:
    with anyio.fail_after(60):
        env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
        await env.run()
        await _start_work(env, "P-1")
        env.feed.put("P-1", 2, None, state="withdrawn")
        assert (await env.run()).withdrawn == 1
        task = await env.task("P-1")
        assert task.status is TaskStatus.WITHDRAWN
        assert task.platform_change_pending and task.platform_change_pending["withdrawn"]
        lead = await login(env.client, "lead1")
        listed = (await env.client.get("/api/v1/team/imports", headers=lead)).json()
        assert [c["id"] for c in listed["pending_changes"]] == [str(task.id)]

        url = f"/api/v1/team/tasks/{task.id}/platform-change/acknowledge"
        body = {"reason": "已与平台核实：商户已注销，撤回无误"}
        assert (
            await env.client.post(url, json=body, headers=await login(env.client, "lead2"))
        ).status_code == 404
        assert (
            await env.client.post(url, json=body, headers=await login(env.client, "amr_a"))
        ).status_code == 403
        assert (await env.client.post(url, json={}, headers=lead)).status_code == 400
        r = await env.client.post(url, json=body, headers=lead)
        assert r.status_code == 200 and r.json()["version"] == 2, r.text
        assert (await env.task("P-1")).platform_change_pending is None
        listed = (await env.client.get("/api/v1/team/imports", headers=lead)).json()
        assert listed["pending_changes"] == []
        again = await env.client.post(url, json=body, headers=lead)
        assert again.status_code == 422
        async with env.db() as session:
            reasons = (
                await session.scalars(
                    select(AuditEvent.reason).where(
                        AuditEvent.action == "platform_change_acknowledged"
                    )
                )
            ).all()
        assert reasons == [body["reason"]]


async def test_a_withdrawal_of_an_untouched_task_is_not_flagged(env: Env) -> None:
    with anyio.fail_after(60):
        env.feed.put("P-1", 1, feed_task("PT-1", ["sub-amr_a", "sub-amr_b"]))
        await env.run()
        env.feed.put("P-1", 2, None, state="withdrawn")
        await env.run()
        task = await env.task("P-1")
        assert task.status is TaskStatus.WITHDRAWN and task.platform_change_pending is None

"""The task import against the reference platform itself (its feed, its client-credentials
token): a task the platform draws reaches the inspectors' phones assigned, a withdrawal reaches
them too, and a task naming someone the backend does not know is held, never dropped."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased, selectinload

from backend.db.models import (
    Department,
    InspectionItem,
    InspectionItemVersion,
    Plan,
    Task,
    TaskAssignment,
    TaskItem,
    TaskStatus,
    Team,
    User,
)
from backend.domain.upstream.importer import TaskImporter, build_importer
from tests.upstream.conftest import Forwarding

pytestmark = pytest.mark.anyio
Member = aliased(User)


async def _drawn_like(f: Forwarding, code: str) -> tuple[dict[str, Any], str]:
    """A task body in the feed's shape, copied from an assigned demo task (so it keeps the rules),
    and the user name of its primary inspector."""
    async with f.db() as session:
        task = await session.scalar(
            select(Task)
            .where(Task.status == TaskStatus.ASSIGNED)
            .order_by(Task.due_on.desc())
            .limit(1)
            .options(selectinload(Task.object), selectinload(Task.plan))
        )
        assert task is not None
        items = (
            await session.scalars(
                select(InspectionItem.code)
                .join(InspectionItemVersion, InspectionItemVersion.item_id == InspectionItem.id)
                .join(TaskItem, TaskItem.item_version_id == InspectionItemVersion.id)
                .where(TaskItem.task_id == task.id)
                .order_by(TaskItem.ordinal)
            )
        ).all()
        people = (
            await session.execute(
                select(User.username, User.platform_subject, TaskAssignment.is_primary)
                .join(TaskAssignment, TaskAssignment.user_id == User.id)
                .where(TaskAssignment.task_id == task.id)
            )
        ).all()
        department = await session.scalar(
            select(Department.code).where(Department.id == task.lead_department_id)
        )
        plan: Plan = task.plan
        body = {
            "code": code,
            "name": f"平台下发：{task.object.name}",
            "plan": {
                "code": plan.code,
                "name": plan.name,
                "starts_on": plan.starts_on.isoformat(),
                "ends_on": plan.ends_on.isoformat(),
            },
            "object": {
                "uscc": task.object.uscc,
                "name": task.object.name,
                "address": task.object.address,
                "legal_representative": task.object.legal_representative,
                "phone": task.object.contact_phone or "0797-6000000",
            },
            "item_codes": list(items),
            "department_code": department,
            "inspector_subjects": [subject for _, subject, _ in people],
            "primary_subject": next(subject for _, subject, primary in people if primary),
            "issued_on": f.clock.now().date().isoformat(),
            "due_on": task.due_on.isoformat(),
        }
    return body, next(name for name, _, primary in people if primary)


async def _pulled(f: Forwarding, username: str, ref_task: uuid.UUID) -> str | None:
    device = uuid.uuid4()
    r = await f.backend.post(
        "/api/v1/sync/pull",
        json={"protocol_version": 1, "app_version": "test", "client_id": str(device)},
        headers=await f.login(username, device),
    )
    assert r.status_code == 200, r.text
    return next((t["status"] for t in r.json()["tasks"] if t["id"] == str(ref_task)), None)


def _importer(f: Forwarding) -> TaskImporter:
    built = build_importer(f.ctx, transport=f.transport)
    assert built is not None
    return TaskImporter(f.db, built.client, f.clock)  # on the test's own engine


async def test_a_drawn_task_reaches_the_phones_and_so_does_its_withdrawal(
    forwarding: Forwarding,
) -> None:
    f = forwarding
    body, inspector = await _drawn_like(f, "PT-2026-0001")
    r = await f.platform.put("/control/tasks/PT-1", json=body)
    assert r.status_code in (200, 201), r.text
    importer = _importer(f)
    report = await importer.run_once()
    assert report.error is None and report.assigned == 1, report
    async with f.db() as session:
        task = await session.scalar(select(Task).where(Task.platform_ref == "PT-1"))
    assert task is not None and task.status is TaskStatus.ASSIGNED and task.code == "PT-2026-0001"
    assert await _pulled(f, inspector, task.id) == "assigned"

    again = await importer.run_once()  # nothing new on the feed: nothing changes
    assert again.items == 0 and again.assigned == 0

    r = await f.platform.delete("/control/tasks/PT-1")
    assert r.status_code in (200, 204), r.text
    assert (await importer.run_once()).withdrawn == 1
    assert await _pulled(f, inspector, task.id) == "withdrawn"
    await importer.close()


async def test_a_task_for_someone_unknown_is_held_for_the_lead(forwarding: Forwarding) -> None:
    f = forwarding
    body, primary = await _drawn_like(f, "PT-2026-0002")
    body["inspector_subjects"] = [body["primary_subject"], "someone-the-backend-lacks"]
    r = await f.platform.put("/control/tasks/PT-2", json=body)
    assert r.status_code in (200, 201), r.text
    importer = _importer(f)
    report = await importer.run_once()
    assert report.held == 1 or report.held_imports == 1, report
    async with f.db() as session:
        lead = await session.scalar(
            select(User.username)
            .join(Team, Team.lead_id == User.id)
            .join(Member, Member.team_id == Team.id)
            .where(Member.username == primary)
        )
    assert lead is not None
    lead_view = await f.backend.get("/api/v1/team/imports", headers=await f.login(lead))
    assert lead_view.status_code == 200
    assert "PT-2" in lead_view.text and "someone-the-backend-lacks" in lead_view.text
    other = await f.backend.get("/api/v1/team/imports", headers=await f.login(f.inspector))
    assert other.status_code == 403
    await importer.close()

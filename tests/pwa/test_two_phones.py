"""Two phones and a lead: two inspectors edit the same point offline and the conflict shows to
both and in the lead's list; a task reassigned while its inspector is offline keeps that
inspector's pending work, which then reaches the server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from backend.db.models import InspectionObject, MutationLogEntry, SyncRecord, Task, User
from backend.db.models.catalog import InspectionItemVersion
from backend.db.models.people import InspectorProfile, Team
from backend.db.models.tasks import TaskAssignment, TaskItem

from .conftest import World, phone
from .inspection import PASSWORD, answer, sign_in

pytestmark = pytest.mark.anyio


@dataclass
class Pair:
    task_id: uuid.UUID
    task_code: str
    object_name: str
    primary: str
    second: str
    lead: str
    others: list[tuple[uuid.UUID, str]]


async def two_inspector_task(world: World) -> Pair:
    """An untouched in-progress task with two demo inspectors, its team's lead, and at least
    two other inspectors of the team qualified for its items (to reassign it to)."""
    async with world.db() as session:
        tasks = (
            await session.scalars(
                select(Task).where(Task.status == "in_progress").order_by(Task.code)
            )
        ).all()
        for task in tasks:
            rows = (
                await session.execute(
                    select(User, TaskAssignment.is_primary)
                    .join(TaskAssignment, TaskAssignment.user_id == User.id)
                    .where(TaskAssignment.task_id == task.id)
                )
            ).all()
            team = await session.get(Team, task.team_id)
            touched = await session.scalar(
                select(SyncRecord.id).where(
                    SyncRecord.task_id == task.id, SyncRecord.entity == "check_in"
                )
            )
            if len(rows) != 2 or team is None or team.lead_id is None or touched:
                continue
            needs = set(
                (
                    await session.execute(
                        select(InspectionItemVersion.qualification_area, TaskItem.department_id)
                        .join(TaskItem, TaskItem.item_version_id == InspectionItemVersion.id)
                        .where(TaskItem.task_id == task.id)
                    )
                ).all()
            )
            if len(needs) != 1:  # one department, one area: any two qualified members cover it
                continue
            ((area, department),) = needs
            assigned = {user.id for user, _ in rows}
            others = [
                (user.id, user.username)
                for user, profile in (
                    await session.execute(
                        select(User, InspectorProfile)
                        .join(InspectorProfile, InspectorProfile.user_id == User.id)
                        .where(User.team_id == team.id)
                    )
                ).all()
                if user.id not in assigned
                and user.department_id == department
                and area in profile.qualification_areas
            ]
            if len(others) < 2:
                continue
            lead = await session.get(User, team.lead_id)
            obj = await session.get(InspectionObject, task.object_id)
            assert lead is not None and obj is not None
            return Pair(
                task.id,
                task.code,
                obj.name,
                next(user.username for user, primary in rows if primary),
                next(user.username for user, primary in rows if not primary),
                lead.username,
                others,
            )
    pytest.fail("the demo data has no untouched in-progress task with two inspectors")


async def open_task(context: BrowserContext, world: World, username: str, pair: Pair) -> Page:
    page = await context.new_page()
    await sign_in(page, world.base, username)
    await page.goto(f"{world.base}/#/task/{pair.task_id}")
    await expect(page.locator("h1")).to_have_text(pair.object_name)
    return page


async def sync_now(page: Page) -> None:
    await page.goto(page.url.split("#")[0] + "#/sync")
    await page.get_by_role("button", name="立即同步").click()
    await expect(page.locator(".syncline")).to_contain_text("无待同步", timeout=30_000)


async def api_token(world: World, username: str) -> str:
    async with httpx.AsyncClient(base_url=world.base) as client:
        r = await client.post(
            "/api/v1/auth/login",
            json={"username": username, "password": PASSWORD, "device_id": str(uuid.uuid4())},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


async def test_the_same_point_edited_on_two_phones_offline_shows_a_conflict_to_both_and_the_lead(
    world: World, browser: Browser, screenshots: Path
) -> None:
    pair = await two_inspector_task(world)
    first, second = await phone(browser), await phone(browser)
    a = await open_task(first, world, pair.primary, pair)
    b = await open_task(second, world, pair.second, pair)
    await first.set_offline(True)
    await second.set_offline(True)
    await answer(a.locator(".point").nth(0), conforms=True)
    await answer(b.locator(".point").nth(0), conforms=False, problem="现场未见健康证")

    await first.set_offline(False)
    await sync_now(a)
    await second.set_offline(False)
    await sync_now(b)
    await sync_now(a)  # the first phone learns of the conflict on its next pull
    for page, name in ((a, "a"), (b, "b")):
        await page.goto(f"{world.base}/#/task/{pair.task_id}")
        conflict = page.locator(".conflict [data-conflict]")
        await expect(conflict).to_have_count(1)
        await expect(conflict).to_contain_text("不符合")  # the later edit won
        await expect(conflict).to_contain_text("符合")  # the other value is kept
        await page.screenshot(path=screenshots / f"08-conflict-phone-{name}.png")
    token = await api_token(world, pair.lead)

    async def lead_sees() -> list[dict[str, object]]:
        async with httpx.AsyncClient(base_url=world.base) as client:
            r = await client.get(
                "/api/v1/team/sync/conflicts", headers={"Authorization": f"Bearer {token}"}
            )
        assert r.status_code == 200, r.text
        return [c for c in r.json()["items"] if c["task_id"] == str(pair.task_id)]

    (listed,) = await lead_sees()
    assert (listed["winner"]["value"], listed["loser"]["value"]) == (False, True)  # type: ignore[index]
    assert listed["status"] == "open"

    # the first inspector settles it: the other value is written back and the conflict resolved
    await a.get_by_role("button", name="改用另一方").click()
    await expect(a.locator(".conflict")).to_contain_text("已处理，待同步")
    await sync_now(a)
    await sync_now(b)
    await b.goto(f"{world.base}/#/task/{pair.task_id}")
    await expect(b.locator(".conflict")).to_have_count(0)
    await expect(
        b.locator(".point").nth(0).get_by_role("button", name="符合", exact=True)
    ).to_have_attribute("aria-pressed", "true")
    (listed,) = await lead_sees()
    assert listed["status"] == "resolved"
    await first.close()
    await second.close()


async def test_work_captured_before_a_reassignment_reaches_the_server(
    world: World, browser: Browser, screenshots: Path
) -> None:
    pair = await two_inspector_task(world)
    context = await phone(browser)
    page = await open_task(context, world, pair.primary, pair)
    await context.set_offline(True)
    await answer(page.locator(".point").nth(0), conforms=False, problem="消毒记录缺失")
    await answer(page.locator(".point").nth(1), conforms=True)

    # meanwhile the lead gives the task to two other inspectors of the team
    token = await api_token(world, pair.lead)
    async with httpx.AsyncClient(base_url=world.base) as client:
        others = [member_id for member_id, _ in pair.others]
        r = None
        for i in range(len(others)):
            for j in range(i + 1, len(others)):
                r = await client.put(
                    f"/api/v1/team/tasks/{pair.task_id}/assignment",
                    headers={"Authorization": f"Bearer {token}"},
                    json={
                        "inspector_ids": [str(others[i]), str(others[j])],
                        "primary_inspector_id": str(others[i]),
                        "reason": "原检查人员临时调往专项整治",
                    },
                )
                if r.status_code == 200:
                    break
            if r is not None and r.status_code == 200:
                break
    assert r is not None and r.status_code == 200, r.text if r else "no other inspectors"

    # the inspector comes back online: the pending work is sent, then the task leaves the phone
    await context.set_offline(False)
    await sync_now(page)
    await page.goto(f"{world.base}/#/")
    await expect(page.locator(".task", has_text=pair.object_name)).to_have_count(0)
    await page.screenshot(path=screenshots / "09-after-reassignment.png")
    await context.close()

    async with world.db() as session:
        user = (await session.scalars(select(User).where(User.username == pair.primary))).one()
        log = (
            await session.scalars(
                select(MutationLogEntry).where(
                    MutationLogEntry.user_id == user.id, MutationLogEntry.task_id == pair.task_id
                )
            )
        ).all()
        assert len(log) == 3  # 不符合, its problem text, 符合
        assert {entry.outcome for entry in log} == {"applied"}
        assert all("late" in entry.flags for entry in log)
        items = (
            await session.scalars(
                select(SyncRecord).where(
                    SyncRecord.task_id == pair.task_id, SyncRecord.entity == "check_item"
                )
            )
        ).all()
        values = sorted(r.fields["conforms"]["value"] for r in items if "conforms" in r.fields)
        assert values == [False, True]

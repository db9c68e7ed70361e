"""An inspector's day in real headless Chromium at a phone's size: sign in online, download the
tasks, lose the network, reload the app offline, check in and work through the checklist,
close and reopen the page, come back online — and the server holds every change exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from backend.db.models import Device, MutationLogEntry, SyncRecord, Task, User

from .conftest import PASSWORD, World, phone

pytestmark = pytest.mark.anyio
PROBLEM = "灭火器压力不足，已当场告知负责人"


async def sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator(".task").first).to_be_visible()
    # the service worker controls the page, so the app can start without the network
    await page.wait_for_function(
        "navigator.serviceWorker && navigator.serviceWorker.controller !== null"
    )


async def test_a_whole_offline_inspection_reaches_the_server_once(
    world: World, browser: Browser, screenshots: Path
) -> None:
    context = await phone(browser)
    page = await context.new_page()
    await sign_in(page, world.base, "insp01")
    await expect(page.locator(".syncline")).to_contain_text("无待同步")
    await page.screenshot(path=screenshots / "01-tasks-online.png")

    # the network goes; the app still starts, from the service worker and IndexedDB
    await context.set_offline(True)
    await page.reload()
    await expect(page.locator(".syncline")).to_contain_text("离线")
    card = page.locator(".task", has_text="待检查").first
    await expect(card).to_be_visible()
    name = (await card.locator(".title").inner_text()).strip()
    await page.screenshot(path=screenshots / "02-tasks-offline.png")
    await card.click()
    await expect(page.locator("h1")).to_have_text(name)

    # on site: check in with the GPS fix, then the checklist
    await page.get_by_role("button", name="签到并开始检查").click()
    await expect(page.get_by_text("定位精度约")).to_be_visible()
    await page.get_by_role("button", name="确认签到").click()
    await expect(page.locator("[data-check-in]")).to_contain_text("115.411926")
    points = page.locator(".point")
    assert await points.count() >= 2
    await points.nth(0).get_by_role("button", name="不符合").click()
    await points.nth(0).locator("textarea").fill(PROBLEM)
    await points.nth(0).locator("textarea").blur()
    await points.nth(1).get_by_role("button", name="符合", exact=True).click()
    await expect(points.nth(0).get_by_role("button", name="不符合")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.locator("header .badge.pending")).to_contain_text("待同步")
    await page.screenshot(path=screenshots / "03-checklist-offline.png", full_page=True)

    # the page is closed and opened again, still offline: nothing captured is lost
    url = page.url
    await page.close()
    page = await context.new_page()
    await page.goto(url)
    points = page.locator(".point")
    await expect(points.nth(0).locator("textarea")).to_have_value(PROBLEM)
    await expect(points.nth(1).get_by_role("button", name="符合", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    await page.goto(world.base + "/#/sync")
    await expect(page.locator("[data-seq]")).to_have_count(5)
    await page.screenshot(path=screenshots / "04-sync-pending.png")

    # back online: the app syncs by itself
    await context.set_offline(False)
    await expect(page.locator(".syncline")).to_contain_text("无待同步", timeout=30_000)
    await page.screenshot(path=screenshots / "05-sync-done.png")
    await context.close()

    async with world.db() as session:
        user = (await session.scalars(select(User).where(User.username == "insp01"))).one()
        device = (await session.scalars(select(Device).where(Device.user_id == user.id))).one()
        log = (
            await session.scalars(
                select(MutationLogEntry)
                .where(MutationLogEntry.device_id == device.id)
                .order_by(MutationLogEntry.seq)
            )
        ).all()
        assert [entry.seq for entry in log] == [1, 2, 3, 4, 5]  # each mutation once, in order
        assert len({entry.mutation_id for entry in log}) == 5
        assert {entry.outcome for entry in log} == {"applied"}
        task = await session.get(Task, log[0].task_id)
        assert task is not None and task.status == "in_progress"
        items = (
            await session.scalars(
                select(SyncRecord).where(
                    SyncRecord.task_id == task.id, SyncRecord.entity == "check_item"
                )
            )
        ).all()
        answers = sorted(
            (r.fields["conforms"]["value"], r.fields.get("problem_text", {}).get("value"))
            for r in items
            if "conforms" in r.fields
        )
        assert answers == [(False, PROBLEM), (True, None)]
        check_ins = (
            await session.scalars(
                select(SyncRecord).where(
                    SyncRecord.task_id == task.id, SyncRecord.entity == "check_in"
                )
            )
        ).all()
        assert [c.fields["longitude"]["value"] for c in check_ins] == ["115.411926"]

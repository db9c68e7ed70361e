"""One phone, two inspectors: work captured by the first stays on the phone through a sign-out,
the second never sees it nor sends it, and it reaches the server once the first signs in again."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from backend.db.models import Device, User

from .conftest import World, phone
from .inspection import PASSWORD, answer, sign_in

pytestmark = pytest.mark.anyio


async def sign_out_keeping_data(page: Page, base: str) -> None:
    await page.goto(base + "/#/settings")
    await page.get_by_role("button", name="退出登录（保留本机数据）").click()
    await expect(page.locator("input[name=username]")).to_be_visible()


async def test_another_inspector_on_the_same_phone_never_sees_or_sends_the_first_ones_work(
    world: World, browser: Browser, screenshots: Path
) -> None:
    context = await phone(browser)
    page = await context.new_page()
    await sign_in(page, world.base, "insp01")
    card = page.locator(".task", has_text="检查中").first
    name = (await card.locator(".title").inner_text()).strip()
    await card.click()
    await context.set_offline(True)
    await answer(page.locator(".point").nth(0), conforms=False, problem="冷藏柜温度超标")
    await expect(page.locator("header .badge.pending")).to_be_visible()

    # the first inspector signs out offline: the work stays, refused to be erased
    await page.goto(world.base + "/#/settings")
    await expect(page.get_by_text("项未同步的内容")).to_be_visible()
    await page.get_by_role("button", name="退出并清除本机数据").click()
    await expect(page.get_by_role("alert")).to_contain_text("不能清除")
    await page.screenshot(path=screenshots / "10-sign-out-refuses-to-erase.png")
    await sign_out_keeping_data(page, world.base)

    # a second inspector signs in on the same phone, online
    await context.set_offline(False)
    await page.fill("input[name=username]", "insp05")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator(".task").first).to_be_visible()
    await expect(page.locator(".syncline")).to_contain_text("无待同步")
    await expect(page.locator(".task", has_text=name)).to_have_count(0)
    await page.goto(world.base + "/#/sync")
    await expect(page.locator("[data-seq]")).to_have_count(0)
    await page.get_by_role("button", name="立即同步").click()
    await expect(page.locator(".syncline")).to_contain_text("上次同步")
    assert await world.logged("insp01") == []
    await sign_out_keeping_data(page, world.base)

    # the first inspector comes back: the work is still here and goes to the server
    await sign_in(page, world.base, "insp01")
    await expect(page.locator(".syncline")).to_contain_text("无待同步", timeout=30_000)
    entries = await world.logged("insp01")
    assert len(entries) == 2  # 不符合 and its problem text
    assert {e.outcome for e in entries} == {"applied"}
    await context.close()


async def test_work_after_erasing_the_phone_and_signing_in_again_reaches_the_server(
    world: World, browser: Browser
) -> None:
    """Erasing makes the next sign-in a new install: its seq numbers never collide with the old ones."""
    context = await phone(browser)
    page = await context.new_page()
    await sign_in(page, world.base, "insp01")
    await page.locator(".task", has_text="检查中").first.click()
    task_url = page.url
    await answer(page.locator(".point").nth(0), conforms=True)
    await page.goto(world.base + "/#/sync")
    await expect(page.locator(".syncline")).to_contain_text("无待同步", timeout=30_000)
    await page.goto(world.base + "/#/settings")
    await expect(page.get_by_text("所有内容都已同步")).to_be_visible()
    await page.get_by_role("button", name="退出并清除本机数据").click()
    await expect(page.locator("input[name=username]")).to_be_visible()

    await sign_in(page, world.base, "insp01")
    await page.goto(task_url)
    await answer(page.locator(".point").nth(1), conforms=False, problem="清除本机后的新记录")
    await page.goto(world.base + "/#/sync")
    await expect(page.locator(".syncline")).to_contain_text("无待同步", timeout=30_000)
    await context.close()
    entries = await world.logged("insp01")
    assert len(entries) == 3
    assert {e.outcome for e in entries} == {"applied"}
    async with world.db() as session:
        devices = (
            await session.scalars(
                select(Device)
                .join(User, User.id == Device.user_id)
                .where(User.username == "insp01")
            )
        ).all()
    assert len(devices) == 2  # the erased install and the new one

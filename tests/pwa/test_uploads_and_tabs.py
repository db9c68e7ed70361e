"""Uploads never hold up the rest, a photo the server would refuse is refused on the phone, and
every tab follows who is signed in."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, Route, expect

from .conftest import World, phone
from .inspection import PASSWORD, answer, camera_photo, sign_in, take_photo

pytestmark = pytest.mark.anyio


async def test_a_stalled_upload_does_not_hold_up_the_changes(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    camera_photo(tmp_path / "shot.jpg", 3)
    context = await phone(browser)
    page = await context.new_page()
    await sign_in(page, world.base, "insp11")
    stalled: list[Route] = []
    await page.route("**/api/v1/uploads**", lambda route: stalled.append(route))  # never answered
    await page.locator(".task", has_text="检查中").first.click()
    await take_photo(page.locator(".point").nth(0), tmp_path / "shot.jpg")
    deadline = time.monotonic() + 30
    while not stalled:  # the upload has started and hangs, as on a connection that went silent
        assert time.monotonic() < deadline, "the upload never started"
        await asyncio.sleep(0.1)
    await answer(page.locator(".point").nth(0), conforms=True)
    deadline = time.monotonic() + 30
    while len(await world.logged("insp11")) < 2:  # the photo record and the answer
        assert time.monotonic() < deadline, "the answer waited for the stalled upload"
        await asyncio.sleep(0.2)
    await page.goto(world.base + "/#/sync")
    await expect(page.locator(".syncline")).to_contain_text("文件 2 个")
    await context.close()


async def test_a_photo_over_the_pixel_limit_is_refused_on_the_phone(
    world: World, browser: Browser, tmp_path: Path
) -> None:
    big = tmp_path / "huge.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (8100, 8000), (90, 120, 150)).save(buffer, "JPEG", quality=70)
    big.write_bytes(buffer.getvalue())
    context = await phone(browser)
    page = await context.new_page()
    await sign_in(page, world.base, "insp12")
    await page.locator(".task", has_text="检查中").first.click()
    point = page.locator(".point").nth(0)
    await point.locator("input[type=file]").set_input_files(str(big))
    await expect(page.get_by_role("alert")).to_contain_text("照片像素过多", timeout=30_000)
    await expect(point.locator("[data-photo]")).to_have_count(0)
    await page.goto(world.base + "/#/sync")
    await expect(page.locator(".syncline")).to_contain_text("无待同步")
    await context.close()


async def test_signing_out_in_one_tab_closes_the_users_screens_in_the_others(
    world: World, browser: Browser
) -> None:
    context = await phone(browser)
    first = await context.new_page()
    await sign_in(first, world.base, "insp14")
    second = await context.new_page()
    await second.goto(world.base + "/#/settings")
    await expect(second.locator("dd").first).to_contain_text("insp14")

    await first.goto(world.base + "/#/settings")
    await first.get_by_role("button", name="退出登录（保留本机数据）").click()
    await expect(second.locator("input[name=username]")).to_be_visible()

    await first.fill("input[name=username]", "insp02")
    await first.fill("input[name=password]", PASSWORD)
    await first.click("button[type=submit]")
    await expect(second.locator("dd").first).to_contain_text("insp02")  # it follows, on its own
    await context.close()

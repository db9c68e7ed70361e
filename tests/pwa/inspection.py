"""Steps of an inspection in the PWA, as an inspector's thumb does them (shared by the browser tests)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.async_api import Locator, Page, expect

PASSWORD = "zsjg-demo"


def camera_photo(path: Path, seed: int) -> bytes:
    """A JPEG like a phone's: 2000×1500, with the EXIF time of the shot."""
    image = Image.new("RGB", (2000, 1500))
    image.putdata(
        [
            ((x * 7 + seed * 40) % 256, (y * 5) % 256, (x + y + seed) % 256)
            for y in range(0, 1500)
            for x in range(0, 2000)
        ]
    )
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2026:11:30 10:15:00"  # DateTimeOriginal
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


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


async def check_in(page: Page) -> None:
    await page.get_by_role("button", name="签到并开始检查").click()
    await expect(page.get_by_text("定位精度约")).to_be_visible()
    await page.get_by_role("button", name="确认签到").click()
    await expect(page.locator("[data-check-in]")).to_be_visible()


async def answer(point: Locator, conforms: bool, problem: str | None = None) -> None:
    name = "符合" if conforms else "不符合"
    button = point.get_by_role("button", name=name, exact=True)
    await button.click()
    await expect(button).to_have_attribute("aria-pressed", "true")
    if problem is not None:
        await point.locator("textarea").fill(problem)
        await point.locator("textarea").blur()


async def take_photo(scope: Locator, file: Path) -> None:
    before = await scope.locator("[data-photo]").count()
    await scope.locator("input[type=file]").set_input_files(str(file))
    await expect(scope.locator("[data-photo]")).to_have_count(before + 1, timeout=30_000)


async def draw_signature(page: Page, slot: Locator) -> None:
    await slot.get_by_role("button", name="签名").click()
    pad = slot.locator("canvas.pad[data-ready]")  # the pad library loads on demand
    await expect(pad).to_be_visible()
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 30, box["y"] + 120)
    await page.mouse.down()
    for step in range(1, 12):
        await page.mouse.move(
            box["x"] + 30 + step * 22, box["y"] + 120 + (-1) ** step * 40, steps=3
        )
    await page.mouse.up()
    await slot.get_by_role("button", name="确认签名").click()
    await expect(slot.locator(".badge.ok")).to_have_text("已签名")

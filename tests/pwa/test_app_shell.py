"""The app as an installed app: its manifest and icons, a new version offered (never forced
while a form is being filled in), the storage answer shown, and a narrow phone."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from .conftest import DIST, World, phone
from .inspection import sign_in

pytestmark = pytest.mark.anyio


@pytest.fixture
def pwa_dist(tmp_path: Path) -> Path:
    """A copy of the build, so a test can publish a new version of the service worker."""
    if not (DIST / "index.html").is_file():
        pytest.fail("the PWA is not built: run `npm run build` in pwa/ (scripts/test.sh does)")
    copy = tmp_path / "dist"
    shutil.copytree(DIST, copy)
    return copy


async def test_the_app_installs_with_a_manifest_and_its_icons(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.base) as client:
        shell = await client.get("/")
        assert 'rel="manifest"' in shell.text
        manifest = (await client.get("/manifest.webmanifest")).json()
        assert manifest["name"] == "掌上监管"
        assert manifest["display"] == "standalone"
        assert manifest["start_url"] == "/"
        sizes = {icon["sizes"] for icon in manifest["icons"]}
        assert {"192x192", "512x512"} <= sizes
        assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
        for icon in manifest["icons"]:
            r = await client.get("/" + icon["src"])
            assert r.status_code == 200
            assert r.content.startswith(b"\x89PNG")


async def test_a_new_version_is_offered_and_taken_only_when_the_inspector_says_so(
    world: World, browser: Browser, pwa_dist: Path, screenshots: Path
) -> None:
    context = await phone(browser)
    page = await context.new_page()
    await sign_in(page, world.base, "insp01")
    await page.locator(".task", has_text="检查中").first.click()
    textarea = page.locator(".point").nth(0).locator("textarea")
    await page.locator(".point").nth(0).get_by_role("button", name="不符合", exact=True).click()
    await textarea.fill("正在填写的问题描述")  # a form is open and being filled in

    # a new version is published and the browser finds it
    sw = pwa_dist / "sw.js"
    sw.write_text(sw.read_text("utf-8") + "\n// a new version\n", "utf-8")
    await page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    banner = page.locator(".notice.update")
    await expect(banner).to_be_visible(timeout=30_000)
    await page.screenshot(path=screenshots / "11-update-offered.png")
    # never forced: the page and what is being typed stay as they are
    await page.wait_for_timeout(500)
    await expect(textarea).to_have_value("正在填写的问题描述")

    # the inspector accepts: the field is saved first, then the new version takes over
    await banner.get_by_role("button", name="更新").click()
    await expect(banner).to_have_count(0, timeout=30_000)
    await expect(page.locator(".point").nth(0).locator("textarea")).to_have_value(
        "正在填写的问题描述"
    )
    assert await page.evaluate("navigator.serviceWorker.controller.scriptURL.endsWith('/sw.js')")
    await context.close()


async def test_settings_show_the_storage_answer_and_the_app_fits_a_narrow_phone(
    world: World, browser: Browser, screenshots: Path
) -> None:
    context = await browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = await context.new_page()
    await sign_in(page, world.base, "insp02")
    # nothing is wider than the screen
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=screenshots / "12-tasks-360px.png")
    await page.goto(world.base + "/#/settings")
    persisted = page.locator("[data-persisted]")
    await expect(persisted).not_to_have_attribute("data-persisted", "null")
    # headless Chromium answers false: the screen says so and offers to ask again
    answer = await persisted.get_attribute("data-persisted")
    if answer == "false":
        await expect(persisted).to_contain_text("未获得持久存储")
        await expect(page.get_by_role("button", name="申请持久存储")).to_be_visible()
    else:
        await expect(persisted).to_contain_text("已设为持久存储")
    await expect(page.locator("dd.mono")).to_have_text(
        await page.evaluate(
            "new Promise(r => { const q = indexedDB.open('zsjg-app'); q.onsuccess = () => {"
            " const t = q.result.transaction('accounts').objectStore('accounts').get('insp02');"
            " t.onsuccess = () => r(t.result.deviceId); }; })"
        )
    )
    await page.screenshot(path=screenshots / "13-settings.png")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await context.close()

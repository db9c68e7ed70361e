"""The PWA signs in through the platform's single sign-on: the platform's own login page, back to
the app, and the phone holds the backend's device-bound session and no SSO token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.pwa.inspection import PASSWORD
from tests.pwa.conftest import World, phone

pytestmark = pytest.mark.anyio


async def test_an_inspector_signs_in_through_the_platform_and_works_offline_after(
    sso_world: World, browser: Browser, screenshots: Path
) -> None:
    context = await phone(browser)
    page = await context.new_page()
    await page.goto(sso_world.base + "/")
    sso_button = page.get_by_role("button", name="统一身份认证登录")
    await expect(sso_button).to_be_visible()
    await expect(page.locator("input[name=password]")).to_have_count(0)  # no demo login here
    await page.screenshot(path=screenshots / "sso-1-app-sign-in.png")

    await sso_button.click()
    await expect(page.locator("input[name=username]")).to_be_visible()
    assert page.url.startswith(sso_world.settings.sso_issuer + "/oidc/authorize?")
    await page.fill("input[name=username]", "insp01")
    await page.fill("input[name=password]", "wrong")
    await page.click("button[type=submit]")
    await expect(page.get_by_text("账号或密码错误")).to_be_visible()
    await page.fill("input[name=password]", PASSWORD)
    await page.screenshot(path=screenshots / "sso-2-platform-login.png")
    await page.click("button[type=submit]")

    await expect(page.locator(".task").first).to_be_visible()
    assert page.url == sso_world.base + "/#/"  # the one-time code is gone from the address
    await page.screenshot(path=screenshots / "sso-3-signed-in.png")
    stored = await page.evaluate(
        """async () => {
          const db = await new Promise((ok, fail) => {
            const r = indexedDB.open("zsjg-app");
            r.onsuccess = () => ok(r.result);
            r.onerror = () => fail(r.error);
          });
          const rows = await new Promise((ok) => {
            const r = db.transaction("accounts").objectStore("accounts").getAll();
            r.onsuccess = () => ok(r.result);
          });
          db.close();
          return { rows, local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage) };
        }"""
    )
    (account,) = stored["rows"]
    assert account["username"] == "insp01" and account["refreshToken"]
    everything = json.dumps(stored)
    for sso_word in ("id_token", "code_verifier", "nonce"):
        assert sso_word not in everything
    cookies = {c["name"] for c in await context.cookies()}
    assert "zsjg_sso" not in cookies  # the sign-in's binding cookie is gone after the redemption

    # the session is the backend's own: the phone keeps working and syncing with it
    await page.wait_for_function(
        "navigator.serviceWorker && navigator.serviceWorker.controller !== null"
    )
    await context.set_offline(True)
    await page.reload()
    await expect(page.locator(".task").first).to_be_visible()
    await context.close()


async def test_a_refused_sign_in_comes_back_to_the_app_with_its_reason(
    sso_world: World, browser: Browser
) -> None:
    context = await phone(browser)
    page = await context.new_page()
    await page.goto(sso_world.base + "/api/v1/auth/sso/callback?state=forged&code=stolen")
    await expect(page.get_by_role("alert")).to_contain_text("登录请求无效")
    assert page.url == sso_world.base + "/#/"
    await expect(page.get_by_role("button", name="统一身份认证登录")).to_be_enabled()
    await context.close()

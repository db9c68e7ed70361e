"""Background Sync: work captured offline reaches the server through the service worker after
the app's pages are closed (Chromium's DevTools protocol fires the sync event, as the browser
does when the network returns)."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Browser, expect

from .conftest import World, phone
from .inspection import answer, sign_in

pytestmark = pytest.mark.anyio


async def test_the_service_worker_sends_the_outbox_with_no_page_open(
    world: World, browser: Browser
) -> None:
    context = await phone(browser)
    page = await context.new_page()
    await sign_in(page, world.base, "insp03")
    await page.locator(".task", has_text="检查中").first.click()
    await context.set_offline(True)
    await answer(page.locator(".point").nth(0), conforms=True)
    await expect(page.locator("header .badge.pending")).to_be_visible()

    # the page goes; a blank page of another origin keeps the browser context and a DevTools session
    blank = await context.new_page()
    await page.close()
    await context.set_offline(False)
    cdp = await context.new_cdp_session(blank)
    registrations: list[dict[str, str]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    await cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 20
    while not registrations:
        assert time.monotonic() < deadline, "no service worker registration"
        await asyncio.sleep(0.05)
    registration = next(r for r in registrations if r["scopeURL"].startswith(world.base))
    await cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": world.base,
            "registrationId": registration["registrationId"],
            "tag": "zsjg-sync",
            "lastChance": False,
        },
    )

    deadline = time.monotonic() + 30
    while True:
        log = await world.logged("insp03")
        if log:
            break
        assert time.monotonic() < deadline, "the service worker sent nothing"
        await asyncio.sleep(0.2)
    assert [(e.seq, e.outcome) for e in log] == [(1, "applied")]
    await context.close()

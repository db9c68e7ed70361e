"""From single sign-on to the main platform, end to end, on real sockets: an inspector new to the
phone signs in through the platform's login page, carries out an inspection in Chromium and
submits it; the lead (signed in through the same SSO) approves it; the server's own forwarding
worker delivers it, and the platform holds the record once, with every file it names, after
them — each with the sha256 of the file the server stored."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from backend.db.models import Role, SyncRecord, Task, TaskAssignment, TaskStatus, Team, User

from .conftest import World, phone
from .inspection import PASSWORD, answer, camera_photo, check_in, draw_signature, take_photo

pytestmark = pytest.mark.anyio


async def _sso_session(world: World, username: str) -> dict[str, str]:
    """A lead's sign-in through the platform's login page, by HTTP (cookies kept)."""
    async with httpx.AsyncClient(base_url=world.base, timeout=10) as browser:
        r = await browser.get("/api/v1/auth/sso/start")
        assert r.status_code == 303, r.text
        authorize = r.headers["location"]
        params = {k: v[0] for k, v in parse_qs(urlparse(authorize).query).items()}
        r = await browser.post(
            f"{world.settings.sso_issuer}/oidc/authorize",
            data={**params, "username": username, "password": PASSWORD},
        )
        assert r.status_code == 303, r.text
        r = await browser.get(r.headers["location"])
        assert r.status_code == 303, r.text
        back = {k: v[0] for k, v in parse_qs(r.headers["location"].split("?", 1)[1]).items()}
        r = await browser.post(
            "/api/v1/auth/sso/redeem", json={"code": back["code"], "device_id": str(uuid.uuid4())}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_signed_in_by_sso_inspected_approved_and_received_once_by_the_platform(
    sso_world: World, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    context = await phone(browser)
    page = await context.new_page()
    await page.goto(sso_world.base + "/")
    await page.get_by_role("button", name="统一身份认证登录").click()
    await page.fill("input[name=username]", "insp01")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    card = page.locator(".task", has_text="待检查").first
    await expect(card).to_be_visible()
    await card.click()
    await expect(page.locator("h1")).not_to_have_text("我的任务")
    task_id = uuid.UUID(page.url.rsplit("/task/", 1)[1][:36])

    await check_in(page)
    points = page.locator(".point")
    await answer(points.nth(0), conforms=False, problem="消防通道堆放杂物，已当场清理")
    for i in range(1, await points.count()):
        await answer(points.nth(i), conforms=True)
    camera_photo(tmp_path / "shot.jpg", 3)
    await take_photo(points.nth(0), tmp_path / "shot.jpg")
    result = page.locator("[data-section=result]")
    await result.get_by_role("button", name="发现问题已责令改正").click()
    await result.get_by_role("button", name="实地检查").click()
    measures = page.locator("[data-section=measures]")
    await measures.locator("select").select_option("rectify")
    await measures.get_by_role("button", name="添加").click()
    signatures = page.locator("[data-section=signatures] li[data-signer]")
    for i in range(await signatures.count()):
        await draw_signature(page, signatures.nth(i))
    await page.get_by_role("link", name="复核并提交").click()
    await page.get_by_role("button", name="确认提交").click()
    await expect(page.locator("header")).to_contain_text("已提交")
    await page.goto(sso_world.base + "/#/sync")
    await expect(page.locator(".syncline")).to_contain_text("无待同步", timeout=60_000)
    await expect(page.locator("h2", has_text="待上传的文件")).to_have_text(
        "待上传的文件（0）", timeout=60_000
    )

    async with sso_world.db() as session:
        task = await session.get(Task, task_id)
        assert task is not None and task.status is TaskStatus.SUBMITTED
        lead = await session.scalar(
            select(User.username)
            .join(Team, Team.lead_id == User.id)
            .where(Team.id == task.team_id, User.role == Role.TEAM_LEAD)
        )
        primary = await session.scalar(
            select(TaskAssignment.user_id).where(
                TaskAssignment.task_id == task.id, TaskAssignment.is_primary.is_(True)
            )
        )
        records = (
            await session.scalars(select(SyncRecord).where(SyncRecord.task_id == task.id))
        ).all()
    assert lead is not None and primary is not None
    named = {
        r.fields[field]["value"]
        for r in records
        for field in ("evidence_digest", "image_digest")
        if field in r.fields and not r.deleted
    }

    headers = await _sso_session(sso_world, lead)
    r = httpx.post(
        f"{sso_world.base}/api/v1/team/tasks/{task.id}/approve",
        json={"note": "同意报送"},
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text

    received: dict[str, object] = {}
    for _ in range(150):  # the server's own worker delivers within seconds
        received = httpx.get(f"{sso_world.settings.sso_issuer}/control/received", timeout=5).json()
        if received["records"]:
            break
        await page.wait_for_timeout(200)
    [record] = received["records"]  # type: ignore[misc]
    photos = received["photos"]
    assert {p["sha256"] for p in photos} == named  # type: ignore[union-attr, index]
    assert sorted(record["photos"]) == sorted(named)  # type: ignore[index]
    assert set(received["attempts"].values()) == {1}  # type: ignore[union-attr]
    assert record["task_ref"] == str(task.id)  # type: ignore[index]

    for _ in range(100):
        async with sso_world.db() as session:
            status = await session.scalar(select(Task.status).where(Task.id == task.id))
        if status is TaskStatus.FORWARDED or status is TaskStatus.PUBLISHED:
            break
        await page.wait_for_timeout(100)
    assert status in (TaskStatus.FORWARDED, TaskStatus.PUBLISHED)
    await page.goto(sso_world.base + "/#/")
    await page.get_by_role("button", name="立即同步").click()
    reported = page.locator(".task", has_text=re.compile("已报送|已公示"))
    await expect(reported.first).to_be_visible(timeout=30_000)
    ours = page.locator(f"a[href='#/task/{task_id}']")
    await expect(ours).to_contain_text(re.compile("已报送|已公示"))
    await ours.scroll_into_view_if_needed()
    await page.screenshot(path=screenshots / "sso-4-forwarded.png")
    await context.close()

"""An inspector's day in real headless Chromium at a phone's size: sign in online, download the
tasks, lose the network, reload the app offline, carry out a whole inspection with two photos
and three signatures, close and reopen the page, come back online — and the server holds each
change and each file exactly once, with matching sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import func, select

from backend.db.models import Device, MutationLogEntry, SyncRecord, Task, User
from backend.db.models.media import StoredFile, Upload
from backend.domain.media.storage import LocalBlobStore

from .conftest import World, phone
from .inspection import answer, camera_photo, check_in, draw_signature, sign_in, take_photo

pytestmark = pytest.mark.anyio
PROBLEM = "灭火器压力不足，已当场告知负责人"


async def test_a_whole_offline_inspection_reaches_the_server_once(
    world: World, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    shots = [camera_photo(tmp_path / f"shot-{i}.jpg", i) for i in (1, 2)]
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
    name = (await card.locator(".title").inner_text()).strip()
    await page.screenshot(path=screenshots / "02-tasks-offline.png")
    await card.click()
    await expect(page.locator("h1")).to_have_text(name)

    # on site: check in, every point of the checklist, two photos
    await check_in(page)
    points = page.locator(".point")
    count = await points.count()
    assert count >= 2
    await answer(points.nth(0), conforms=False, problem=PROBLEM)
    for i in range(1, count):
        await answer(points.nth(i), conforms=True)
    await take_photo(points.nth(0), tmp_path / "shot-1.jpg")
    await take_photo(page.locator(".card", has_text="现场照片"), tmp_path / "shot-2.jpg")
    await page.screenshot(path=screenshots / "03-checklist-offline.png")

    # the result and a follow-up measure from the server's code tables
    result = page.locator("[data-section=result]")
    await result.get_by_role("button", name="发现问题已责令改正").click()
    await expect(result.get_by_role("button", name="发现问题已责令改正")).to_have_attribute(
        "aria-pressed", "true"
    )
    await result.get_by_role("button", name="实地检查").click()
    measures = page.locator("[data-section=measures]")
    await measures.locator("select").select_option("rectify")
    await measures.get_by_role("button", name="添加").click()
    await expect(measures.locator("[data-measure]")).to_have_count(1)

    # both inspectors' signatures and the business's, after the content is final
    signatures = page.locator("[data-section=signatures] li[data-signer]")
    assert await signatures.count() == 3
    for i in range(3):
        await draw_signature(page, signatures.nth(i))
    await signatures.nth(2).scroll_into_view_if_needed()
    await page.screenshot(path=screenshots / "04-signatures-offline.png")

    # review, then submit — still offline
    await page.get_by_role("link", name="复核并提交").click()
    await expect(page.locator("[data-blockers]")).to_have_count(0)
    await page.screenshot(path=screenshots / "05-review.png")
    await page.get_by_role("button", name="确认提交").click()
    await expect(page.locator("header")).to_contain_text("已提交")

    # the page is closed and opened again, still offline: nothing captured is lost
    url = page.url
    await page.close()
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator(".point").nth(0).locator("textarea")).to_have_value(PROBLEM)
    await expect(page.locator("[data-photo]")).to_have_count(2)
    await page.goto(world.base + "/#/sync")
    await expect(page.locator("[data-seq]").first).to_be_visible()
    pending = await page.locator("[data-seq]").count()
    assert pending >= 5 + count
    await page.screenshot(path=screenshots / "06-sync-pending.png")

    # back online: the app syncs and uploads by itself
    await context.set_offline(False)
    await expect(page.locator(".syncline")).to_contain_text("无待同步", timeout=60_000)
    await expect(page.locator("h2", has_text="待上传的文件")).to_have_text(
        "待上传的文件（0）", timeout=60_000
    )
    await page.screenshot(path=screenshots / "07-sync-done.png")
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
        # every mutation once, in the order it was made, and applied
        assert [entry.seq for entry in log] == list(range(1, pending + 1))
        assert len({entry.mutation_id for entry in log}) == pending
        assert {entry.outcome for entry in log} == {"applied"}
        task = await session.get(Task, log[0].task_id)
        assert task is not None and task.status == "submitted"
        records = (
            await session.scalars(select(SyncRecord).where(SyncRecord.task_id == task.id))
        ).all()

        def of(entity: str) -> list[SyncRecord]:
            return [r for r in records if r.entity == entity and not r.deleted]

        answers = sorted(
            (r.fields["conforms"]["value"], r.fields.get("problem_text", {}).get("value"))
            for r in of("check_item")
        )
        assert answers == [(False, PROBLEM)] + [(True, None)] * (count - 1)
        assert of("result")[0].fields["categories"]["value"] == ["E"]
        assert [m.fields["code"]["value"] for m in of("measure")] == ["rectify"]
        signers = sorted(s.fields["signer"]["value"] for s in of("signature"))
        assert signers == ["business", "inspector", "inspector"]

        # each photo: the original's sha256 is the captured file's; every named file arrived once
        photos = of("photo")
        # the phone read each photo's EXIF time (Beijing time, no offset in the file)
        assert {p.fields["taken_at"]["value"] for p in photos} == {"2026-11-30T02:15:00.000Z"}
        originals = {p.fields["original_digest"]["value"] for p in photos}
        assert originals == {hashlib.sha256(b).hexdigest() for b in shots}
        named = originals | {p.fields["evidence_digest"]["value"] for p in photos}
        named |= {s.fields["image_digest"]["value"] for s in of("signature")}
        assert len(named) == 7
        store = LocalBlobStore(world.settings.files_dir)
        for digest in named:
            assert await session.get(StoredFile, digest) is not None, digest
            with store.open(digest) as stored:
                assert hashlib.sha256(stored.read()).hexdigest() == digest
            uploads = await session.scalar(
                select(func.count()).select_from(Upload).where(Upload.digest == digest)
            )
            assert uploads == 1, digest

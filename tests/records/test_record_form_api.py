"""The 检查记录表 of a task over HTTP: what the inspectors synced, printed with its Chinese text."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from tests.media.tus_client import upload
from tests.phone import Phone, check_item
from tests.records.test_form_pdf import _tool
from tests.world import World, build_world, login

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


def signature_png() -> bytes:
    img = Image.new("RGB", (300, 100), "white")
    ImageDraw.Draw(img).line([(10, 80), (80, 20), (150, 70), (280, 30)], fill="black", width=5)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        [_tool("pdftotext"), str(path), "-"], capture_output=True, text=True, timeout=60, check=True
    )
    return re.sub(r"\s+", "", done.stdout)


async def test_the_record_form_prints_what_was_synced(
    client: Client, world: World, tmp_path: Path
) -> None:
    phone = await Phone(client, "amr_a").login()
    await phone.pull()
    t1 = str(world["t1"])
    item = check_item(phone, t1)
    result_id = next(
        rid for (e, rid), r in phone.records.items() if e == "result" and r["task_id"] == t1
    )
    image = signature_png()
    _, last = await upload(client, phone.headers, t1, image)
    assert last.status_code == 204
    r = await phone.push(
        phone.set(
            "check_item", item, t1, conforms=False, problem_text="灭火器压力不足，已过检验期"
        ),
        phone.set(
            "result",
            result_id,
            t1,
            categories=["E"],
            verification_methods=["on_site"],
            checked_at="2026-11-30T10:20:00+08:00",
            business_remarks="已知悉，立即更换",
        ),
        phone.mutation(
            "create",
            "measure",
            str(uuid.uuid4()),
            t1,
            {"code": "rectify", "text": "三日内更换灭火器"},
        ),
    )
    assert all(x["outcome"] == "applied" for x in r.json()["results"]), r.text
    content_hash = (await client.get(f"/api/v1/tasks/{t1}/files", headers=phone.headers)).json()[
        "content_hash"
    ]
    r = await phone.push(
        phone.mutation(
            "create",
            "signature",
            str(uuid.uuid4()),
            t1,
            {
                "signer": "inspector",
                "signer_user_id": str(world["amr_a"]),
                "image_digest": hashlib.sha256(image).hexdigest(),
                "content_hash": content_hash,
            },
        ),
        phone.mutation(
            "create",
            "signature",
            str(uuid.uuid4()),
            t1,
            {
                "signer": "business",
                "refused": {"reason": "负责人不在场", "witness": "社区网格员李四"},
                "content_hash": content_hash,
            },
        ),
    )
    assert all(x["outcome"] == "applied" for x in r.json()["results"]), r.text

    got = await client.get(f"/api/v1/tasks/{t1}/record-form", headers=phone.headers)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/pdf")
    assert got.content.startswith(b"%PDF")
    assert got.headers["x-record-hash"] == content_hash  # nothing changed since the signatures
    text = text_of(got.content, tmp_path)
    for expected in [
        "检查记录表",
        "任务T-1",  # the task's name as the world names it
        "T-1",
        "灭火器压力不足，已过检验期",
        "发现问题已责令改正",  # 检查结果 in the code table's official wording
        "实地检查",
        "违反本部门相关规定，责令限期整改",
        "三日内更换灭火器",
        "已知悉，立即更换",
        "拒签",
        "负责人不在场",
        "2026年11月30日",
        content_hash,
    ]:
        assert expected in text, expected
    assert "签名后内容已变更" not in text


async def test_only_those_who_may_see_the_task_get_its_form(client: Client, world: World) -> None:
    url = f"/api/v1/tasks/{world['t1']}/record-form"
    assert (await client.get(url, headers=await login(client, "amr_b"))).status_code == 200
    assert (await client.get(url, headers=await login(client, "lead1"))).status_code == 200
    for outsider in ("other_x", "lead2"):
        assert (await client.get(url, headers=await login(client, outsider))).status_code == 404
    assert (await client.get(url, headers=await login(client, "op"))).status_code == 403
    assert (await client.get(url)).status_code == 401

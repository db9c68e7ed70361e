"""A task's evidence: which named files have arrived, completeness, and signatures gone stale."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import FixedClock
from backend.settings import Settings
from tests.media import files
from tests.media.tus_client import upload
from tests.phone import Phone, check_item
from tests.world import World, build_world, login

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


async def test_complete_only_when_every_named_evidence_file_has_arrived(
    client: Client, world: World
) -> None:
    phone = await Phone(client, "amr_a").login()
    await phone.pull()
    t1 = str(world["t1"])
    evidence_image, original, signature_image = files.jpeg(), files.jpeg(1600, 1200), files.png()
    url = f"/api/v1/tasks/{t1}/files"

    before = (await client.get(url, headers=phone.headers)).json()
    assert before["complete"] is True and before["files"] == [] and before["signatures"] == []
    content_hash = before["content_hash"]

    photo_id, signature_id = str(uuid.uuid4()), str(uuid.uuid4())
    r = await phone.push(
        phone.mutation(
            "create",
            "photo",
            photo_id,
            t1,
            {
                "evidence_digest": files.sha256(evidence_image),
                "original_digest": files.sha256(original),
                "taken_at": "2026-11-30T10:15:42+08:00",
            },
        ),
        phone.mutation(
            "create",
            "signature",
            signature_id,
            t1,
            {
                "signer": "business",
                "signer_name": "王老板",
                "image_digest": files.sha256(signature_image),
                "content_hash": content_hash,
            },
        ),
    )
    assert [x["outcome"] for x in r.json()["results"]] == ["applied", "applied"], r.text

    state = (await client.get(url, headers=phone.headers)).json()
    assert state["complete"] is False
    assert state["missing"] == sorted([files.sha256(evidence_image), files.sha256(signature_image)])
    by_field = {f["field"]: f for f in state["files"]}
    assert by_field["original_digest"]["required"] is False  # originals come on Wi-Fi
    assert by_field["evidence_digest"]["required"] is True

    for data in (evidence_image, signature_image):
        _, last = await upload(client, phone.headers, t1, data)
        assert last.status_code == 204, last.text
    done = (await client.get(url, headers=phone.headers)).json()
    assert done["complete"] is True and done["missing"] == []
    assert {f["field"]: f["stored"] for f in done["files"]} == {
        "evidence_digest": True,
        "original_digest": False,
        "image_digest": True,
    }
    # the photo record names the evidence image: it changed the content the signature covers
    [signature] = done["signatures"]
    assert signature["signer"] == "business" and signature["image_stored"] is True
    assert signature["stale"] is True
    assert done["content_hash"] != content_hash


async def test_a_signature_goes_stale_when_what_it_signed_changes(
    client: Client, world: World
) -> None:
    phone = await Phone(client, "amr_a").login()
    await phone.pull()
    t1 = str(world["t1"])
    url = f"/api/v1/tasks/{t1}/files"
    content_hash = (await client.get(url, headers=phone.headers)).json()["content_hash"]
    refusal = phone.mutation(
        "create",
        "signature",
        str(uuid.uuid4()),
        t1,
        {
            "signer": "business",
            "refused": {"reason": "负责人拒绝签字", "witness": "社区网格员 李四"},
            "content_hash": content_hash,
        },
    )
    assert (await phone.push(refusal)).status_code == 200
    [fresh] = (await client.get(url, headers=phone.headers)).json()["signatures"]
    assert fresh["refused"] is True and fresh["stale"] is False and fresh["image_digest"] is None

    item = check_item(phone, t1)
    await phone.push(phone.set("check_item", item, t1, conforms=False, problem_text="未公示许可证"))
    [stale] = (await client.get(url, headers=phone.headers)).json()["signatures"]
    assert stale["stale"] is True


async def test_knowing_a_digest_opens_nothing_having_the_bytes_does(
    client: Client, world: World, settings: Settings
) -> None:
    a = await login(client, "amr_a")
    data = files.jpeg()
    digest = files.sha256(data)
    _, last = await upload(client, a, str(world["t1"]), data)
    assert last.status_code == 204
    assert (await client.head(f"/api/v1/files/{digest}", headers=a)).status_code == 200

    other = await Phone(client, "other_x").login()
    await other.pull()
    t2 = str(world["t2"])
    t2_file = f"/api/v1/tasks/{t2}/files/{digest}"
    # a digest seen somewhere, written into a record of one's own task, opens nothing
    await other.push(
        other.mutation("create", "photo", str(uuid.uuid4()), t2, {"evidence_digest": digest})
    )
    assert (await client.get(t2_file, headers=other.headers)).status_code == 404
    assert (await client.head(f"/api/v1/files/{digest}", headers=other.headers)).status_code == 404
    evidence = (await client.get(f"/api/v1/tasks/{t2}/files", headers=other.headers)).json()
    assert evidence["complete"] is False and evidence["missing"] == [digest]
    # the phone that really holds the bytes sends them; the store keeps one copy
    _, last = await upload(client, other.headers, t2, data)
    assert last.status_code == 204
    assert (await client.get(t2_file, headers=other.headers)).content == data
    evidence = (await client.get(f"/api/v1/tasks/{t2}/files", headers=other.headers)).json()
    assert evidence["complete"] is True
    assert len(list((settings.data_dir / "files").rglob(digest))) == 1
    # t1's inspectors still cannot read it through t2, nor list t2's evidence
    assert (await client.get(t2_file, headers=a)).status_code == 404
    assert (await client.get(f"/api/v1/tasks/{t2}/files", headers=a)).status_code == 404


async def test_the_same_photo_on_a_second_task_is_not_sent_twice(
    client: Client, world: World, session_maker: Maker, clock: FixedClock
) -> None:
    """The author of a record who uploaded the bytes before proves possession: they open."""
    from backend.domain.audit.service import Actor, Audit
    from backend.domain.tasks.services import TaskService
    from tests.world import new_task

    async with session_maker() as s, s.begin():
        service = TaskService(s, clock, Audit(s, clock, Actor.system()))
        second = await service.create_task(
            new_task(world, "T-3", inspectors=["amr_a", "amr_b"], items=["FOOD-1"]),
            team_id=world["team1"],
            by_user_id=world["lead1"],
        )
        t3 = str(second.id)
    phone = await Phone(client, "amr_a").login()
    await phone.pull()
    data = files.jpeg()
    digest = files.sha256(data)
    _, last = await upload(client, phone.headers, str(world["t1"]), data)
    assert last.status_code == 204
    assert (await client.head(f"/api/v1/files/{digest}", headers=phone.headers)).status_code == 200
    await phone.push(
        phone.mutation("create", "photo", str(uuid.uuid4()), t3, {"evidence_digest": digest})
    )
    b = await login(client, "amr_b")
    assert (await client.get(f"/api/v1/tasks/{t3}/files/{digest}", headers=b)).content == data
    assert (await client.get(f"/api/v1/tasks/{t3}/files", headers=b)).json()["complete"] is True


async def test_an_original_whose_exif_disagrees_with_the_phone_is_flagged(
    client: Client, world: World
) -> None:
    phone = await Phone(client, "amr_a").login()
    await phone.pull()
    t1 = str(world["t1"])
    original = files.jpeg()  # EXIF: 2026-11-30 10:15:42 +08:00 at 28.682000, 115.892167
    honest, moved = str(uuid.uuid4()), str(uuid.uuid4())
    evidence = files.png()
    await phone.push(
        phone.mutation(
            "create",
            "photo",
            honest,
            t1,
            {
                "evidence_digest": files.sha256(evidence),
                "original_digest": files.sha256(original),
                "taken_at": "2026-11-30T02:16:00Z",
                "latitude": "28.682100",
                "longitude": "115.892000",
            },
        ),
        phone.mutation(
            "create",
            "photo",
            moved,
            t1,
            {
                "evidence_digest": files.sha256(evidence),
                "original_digest": files.sha256(original),
                "taken_at": "2026-11-29T10:15:42+08:00",
                "latitude": "25.952300",
                "longitude": "115.892167",
            },
        ),
    )
    url = f"/api/v1/tasks/{t1}/files"
    before = (await client.get(url, headers=phone.headers)).json()
    assert all(f["exif_mismatch"] == [] for f in before["files"])  # nothing to compare yet
    _, last = await upload(client, phone.headers, t1, original)
    assert last.status_code == 204
    files_now = (await client.get(url, headers=phone.headers)).json()["files"]
    flags = {
        f["record_id"]: f["exif_mismatch"] for f in files_now if f["field"] == "original_digest"
    }
    assert flags[honest] == []  # within two minutes and about 100 m
    assert len(flags[moved]) == 2
    assert "拍摄时间不符" in flags[moved][0] and "拍摄位置不符（latitude）" in flags[moved][1]

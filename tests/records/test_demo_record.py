"""The demo data holds one inspection worked through: complete evidence, fresh signatures, its form."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from backend.app import create_app
from backend.clock import FixedClock
from backend.db.engine import create_engine
from backend.db.migrate import upgrade
from backend.db.models import InspectionObject, MutationLogEntry, Task, TaskAssignment, User
from backend.demo.seed import seed_if_empty
from backend.settings import Settings
from tests.conftest import NOW
from tests.records.test_record_form_api import text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def demo_settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "demo", demo_mode=True, generate_signing_key=True)
    upgrade(settings.effective_database_url)  # outside the test's event loop
    return settings


async def test_the_demo_record_is_complete_and_prints(
    demo_settings: Settings, tmp_path: Path
) -> None:
    settings = demo_settings
    clock = FixedClock(NOW)
    await seed_if_empty(settings, clock)
    engine = create_engine(settings.effective_database_url)
    try:
        async with async_sessionmaker(engine)() as s:
            task_id = await s.scalar(select(MutationLogEntry.task_id).limit(1))
            username, object_name = (
                await s.execute(
                    select(User.username, InspectionObject.name)
                    .join(TaskAssignment, TaskAssignment.user_id == User.id)
                    .join(Task, Task.id == TaskAssignment.task_id)
                    .join(InspectionObject, InspectionObject.id == Task.object_id)
                    .where(Task.id == task_id, TaskAssignment.is_primary.is_(True))
                )
            ).one()
            outcomes = set((await s.scalars(select(MutationLogEntry.outcome))).all())
    finally:
        await engine.dispose()
    assert outcomes == {"applied"}

    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        login = await client.post(
            "/api/v1/auth/login",
            json={"username": username, "password": "zsjg-demo", "device_id": str(uuid.uuid4())},
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        evidence = (await client.get(f"/api/v1/tasks/{task_id}/files", headers=headers)).json()
        assert evidence["complete"] is True and len(evidence["files"]) >= 3
        assert [s["stale"] for s in evidence["signatures"]] == [False] * 3
        form = await client.get(f"/api/v1/tasks/{task_id}/record-form", headers=headers)
        assert form.status_code == 200
    text = text_of(form.content, tmp_path)
    for expected in [
        object_name,
        "发现问题已责令改正",
        "责令当场整改，三日内复查",
        "已知悉，当场整改",
    ]:
        assert expected in text, expected
    assert "（未签名）" not in text

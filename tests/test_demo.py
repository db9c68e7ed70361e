"""``zsjg demo``: migrates, seeds realistic data once, serves, and the data obeys the rules."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import selectinload

from backend.clock import FixedClock, local_today
from backend.db.engine import create_engine
from backend.db.migrate import upgrade
from backend.db.models import (
    ChecklistPoint,
    Department,
    InspectionItemVersion,
    InspectionObject,
    InspectorProfile,
    Role,
    Task,
    TaskItem,
    Team,
    User,
)
from backend.demo.seed import seed_if_empty
from backend.domain.deadlines.views import light_for
from backend.domain.deadlines.workdays import SHANGHAI
from backend.domain.objects import uscc
from backend.settings import Settings
from tests.conftest import NOW

pytestmark = pytest.mark.anyio


@pytest.fixture
def demo_settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path, demo_mode=True)
    upgrade(settings.effective_database_url)
    return settings


async def test_demo_data_is_big_enough_and_real_looking(demo_settings: Settings) -> None:
    clock = FixedClock(NOW)
    accounts = await seed_if_empty(demo_settings, clock)
    today = local_today(clock)
    engine = create_engine(demo_settings.effective_database_url)
    try:
        async with async_sessionmaker(engine)() as s:

            async def count(model: type, *where: Any) -> int:
                return await s.scalar(select(func.count()).select_from(model).where(*where)) or 0

            names = (await s.scalars(select(Department.name))).all()
            assert len(names) >= 6 and any(n.endswith("市场监督管理局") for n in names)
            items_with_points = await s.scalar(
                select(func.count(func.distinct(InspectionItemVersion.item_id))).join(
                    ChecklistPoint, ChecklistPoint.item_version_id == InspectionItemVersion.id
                )
            )
            assert items_with_points is not None and items_with_points >= 30
            objects = (await s.scalars(select(InspectionObject))).all()
            assert len(objects) >= 300
            assert all(
                uscc.is_valid(o.uscc) and o.uscc[2:8] == "360731" and "于都县" in o.address
                for o in objects
            )
            assert await count(User, User.role == Role.INSPECTOR) >= 16
            assert await count(Team) >= 4
            assert (
                await count(
                    InspectorProfile,
                    InspectorProfile.certificate_valid_until <= today + timedelta(days=30),
                )
                >= 2
            )
            assert await count(Task) >= 60
            joint = await s.scalar(
                select(func.count()).select_from(
                    select(TaskItem.task_id)
                    .group_by(TaskItem.task_id)
                    .having(func.count(func.distinct(TaskItem.department_id)) > 1)
                    .subquery()
                )
            )
            assert joint is not None and joint >= 6
            assert await count(Task, Task.due_on < today) >= 5
            assert (
                await count(Task, Task.due_on >= today, Task.due_on <= today + timedelta(days=3))
                >= 5
            )
            tasks = (await s.scalars(select(Task).options(selectinload(Task.plan)))).all()
            colors = {light_for(t, t.plan, clock.now()).color for t in tasks}
            assert colors >= {"red", "yellow", "green"}
            phases = {(light_for(t, t.plan, clock.now()).phase) for t in tasks}
            assert phases >= {"due", "entry", "publication"}
            across_national_day = [
                t
                for t in tasks
                if t.checked_at
                and t.publication_deadline_at
                and t.checked_at.astimezone(SHANGHAI).date()
                < date(t.checked_at.year, 10, 1)
                < t.publication_deadline_at.astimezone(SHANGHAI).date()
            ]
            assert across_national_day
            assert any(
                not t.deadlines_calendar_complete and t.deadlines_assumed_years for t in tasks
            )
        assert any(line.startswith("insp01") for line in accounts)
        # a second start does not seed again
        again = await seed_if_empty(demo_settings, clock)
        async with async_sessionmaker(engine)() as s:
            assert await s.scalar(select(func.count()).select_from(InspectionObject)) == len(
                objects
            )
        assert again == accounts
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_zsjg_demo_serves_the_api(tmp_path: Path) -> None:
    port, platform_port = _free_port(), _free_port()
    zsjg = Path(sys.executable).parent / "zsjg"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZSJG_")}
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(zsjg),
                "demo",
                "--port",
                str(port),
                "--platform-port",
                str(platform_port),
                "--data-dir",
                str(tmp_path / "demo"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not come up"
            time.sleep(0.2)
        # the reference platform runs alongside, its issuer printed with the backend's URL
        issuer = f"http://127.0.0.1:{platform_port}"
        discovery = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
        assert discovery["issuer"] == issuer
        assert f"Reference platform (OpenID Connect issuer): {issuer}" in log_path.read_text()
        paths = httpx.get(f"{base}/schema/openapi.json", timeout=5).json()["paths"]
        assert {
            "/api/v1/tasks",
            "/api/v1/tasks/{task_id}",
            "/api/v1/me",
            "/api/v1/team/tasks",
            "/api/v1/code-tables",
        } <= set(paths)
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            timeout=5,
            json={
                "username": "insp01",
                "password": "zsjg-demo",
                "device_id": "6f1c2b1e-0c1e-4a53-9a57-6d1f0e9b8a01",
                "device_name": "测试",
            },
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = httpx.get(f"{base}/api/v1/me", headers=headers, timeout=5).json()
        # the worker takes in the platform's drawn tasks: two assigned to insp01, one held
        for _ in range(100):
            mine = httpx.get(f"{base}/api/v1/tasks?limit=200", headers=headers, timeout=5).json()
            if sum(t["code"].startswith("PT") for t in mine["items"]) == 2:
                break
            time.sleep(0.2)
        assert sum(t["code"].startswith("PT") for t in mine["items"]) == 2
        assert mine["total"] > 0
        assert all(any(i["id"] == me["id"] for i in t["inspectors"]) for t in mine["items"])
        lead = httpx.post(
            f"{base}/api/v1/auth/login",
            timeout=5,
            json={
                "username": "lead01",
                "password": "zsjg-demo",
                "device_id": "6f1c2b1e-0c1e-4a53-9a57-6d1f0e9b8a02",
            },
        ).json()
        team = httpx.get(
            f"{base}/api/v1/team/tasks?limit=200",
            timeout=5,
            headers={"Authorization": f"Bearer {lead['access_token']}"},
        ).json()
        foreign = [t for t in team["items"] if all(i["id"] != me["id"] for i in t["inspectors"])]
        assert foreign, "the food team has tasks without insp01"
        assert (
            httpx.get(
                f"{base}/api/v1/tasks/{foreign[0]['id']}", headers=headers, timeout=5
            ).status_code
            == 404
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert "insp01" in log_path.read_text()
    assert (tmp_path / "demo" / "zsjg.sqlite3").exists()
    assert (tmp_path / "demo" / "keys" / "signing.pem").exists()


def test_zsjg_help_lists_our_commands_and_litestars() -> None:
    zsjg = Path(sys.executable).parent / "zsjg"
    out = subprocess.run(
        [str(zsjg), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for command in ("demo", "platform", "run", "database", "routes"):
        assert command in out.stdout, out.stdout

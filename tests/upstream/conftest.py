"""The demo world beside the reference platform (in-process, on the same injected clock): one
inspection worked through and submitted, a lead to review it, and the forwarding worker driven
round by round."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.clock import FixedClock
from backend.db.models import (
    MutationLogEntry,
    OutboxMessage,
    Role,
    Task,
    TaskAssignment,
    TaskStatus,
    Team,
    User,
)
from backend.demo.seed import seed_if_empty
from backend.domain.auth.tokens import TokenSigner
from backend.domain.upstream.worker import Forwarder
from backend.http.context import AppContext
from backend.platform import PlatformSettings, create_platform_app
from backend.settings import Settings
from tests.world import PASSWORD

ISSUER = "http://platform.test"
SECRET = "forwarding-test-secret"
Client = AsyncTestClient[Litestar]


@dataclass
class Forwarding:
    backend: Client
    platform: httpx.AsyncClient
    ctx: AppContext
    clock: FixedClock
    db: async_sessionmaker[AsyncSession]
    task_id: uuid.UUID
    inspector: str
    lead: str
    transport: httpx.AsyncBaseTransport
    """Into the platform's app (what the backend's clients use)."""
    worker: Forwarder
    """The app's forwarding worker, on this test's own engine: the test client serves the app
    on an event loop of its own, and PostgreSQL connections belong to the loop that made them."""

    async def login(self, username: str, device: uuid.UUID | None = None) -> dict[str, str]:
        r = await self.backend.post(
            "/api/v1/auth/login",
            json={
                "username": username,
                "password": PASSWORD,
                "device_id": str(device or uuid.uuid4()),
            },
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def approve(self, task_id: uuid.UUID | None = None) -> dict[str, Any]:
        r = await self.backend.post(
            f"/api/v1/team/tasks/{task_id or self.task_id}/approve",
            json={"note": "记录完整，同意报送"},
            headers=await self.login(self.lead),
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def status(self, task_id: uuid.UUID | None = None) -> str:
        async with self.db() as session:
            task = await session.get(Task, task_id or self.task_id)
            assert task is not None
            return task.status.value

    async def outbox(self) -> list[OutboxMessage]:
        async with self.db() as session:
            return list(
                (
                    await session.scalars(
                        select(OutboxMessage).order_by(
                            OutboxMessage.task_id,
                            OutboxMessage.stage,
                            OutboxMessage.idempotency_key,
                        )
                    )
                ).all()
            )

    async def received(self) -> dict[str, Any]:
        r = await self.platform.get("/control/received")
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def faults(self, **faults: Any) -> None:
        r = await self.platform.put("/control/faults", json=faults)
        assert r.status_code == 200, r.text


async def submitted_copy(db: async_sessionmaker[AsyncSession], task_id: uuid.UUID) -> None:
    """The inspectors submit the worked-through task (the phone's transition, made directly)."""
    async with db() as session, session.begin():
        await session.execute(
            update(Task).where(Task.id == task_id).values(status=TaskStatus.SUBMITTED)
        )


@pytest.fixture
async def forwarding(database_url: str, tmp_path: Path) -> AsyncIterator[Forwarding]:
    from tests.conftest import NOW

    clock = FixedClock(NOW)
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        demo_mode=True,
        generate_signing_key=True,
        sso_issuer=ISSUER,
        sso_client_secret=SECRET,
        forwarding_worker=False,  # the tests drive the worker round by round
    )
    await seed_if_empty(settings, clock)
    signer = TokenSigner.from_file(
        settings.effective_signing_key_file,
        generate=True,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
    )
    platform_app = create_platform_app(
        PlatformSettings(
            issuer=ISSUER,
            backend_client_secret=SECRET,
            backend_redirect_uris=(f"{ISSUER}/unused",),
            backend_jwks={"keys": [signer.public_jwk()]},
        ),
        clock=clock,
    )
    transport = httpx.ASGITransport(app=platform_app)
    app = create_app(settings, clock=clock, sso_transport=transport, platform_transport=transport)
    from backend.db.engine import create_engine

    engine = create_engine(settings.effective_database_url)
    db = async_sessionmaker(engine, expire_on_commit=False)
    async with db() as session:
        task_id = await session.scalar(select(MutationLogEntry.task_id).limit(1))
        assert task_id is not None
        inspector = await session.scalar(
            select(User.username)
            .join(TaskAssignment, TaskAssignment.user_id == User.id)
            .where(TaskAssignment.task_id == task_id, TaskAssignment.is_primary.is_(True))
        )
        lead = await session.scalar(
            select(User.username)
            .join(Team, Team.lead_id == User.id)
            .join(Task, Task.team_id == Team.id)
            .where(Task.id == task_id, User.role == Role.TEAM_LEAD)
        )
    assert inspector and lead
    await submitted_copy(db, task_id)
    try:
        async with (
            AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as backend,
            httpx.AsyncClient(transport=transport, base_url=ISSUER) as platform,
        ):
            ctx: AppContext = app.state.ctx
            assert ctx.forwarder is not None
            worker = Forwarder(
                db,
                ctx.forwarder.client,
                ctx.uploads.store,
                clock,
                ctx.forwarder.policy,
                postgres=ctx.forwarder.postgres,
            )
            yield Forwarding(
                backend, platform, ctx, clock, db, task_id, inspector, lead, transport, worker
            )
    finally:
        await engine.dispose()

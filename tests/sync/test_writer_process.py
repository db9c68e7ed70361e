"""The push writer in a child process: same answers as in process, and a dead child loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.app import create_app
from backend.clock import FixedClock
from backend.db.models import MutationLogEntry, Role
from backend.domain.auth.principal import Principal
from backend.domain.sync import writer_process
from backend.domain.sync.writer import PushNotStored, PushWriter, ServerStopping
from backend.domain.sync.writer_process import PushWriterProcess
from backend.errors import DomainError
from backend.settings import Settings, SettingsError
from tests.sync.test_writer import count, device_of, finding_push
from tests.world import World, build_world, login

Maker = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(session_maker: Maker, clock: FixedClock) -> World:
    return await build_world(session_maker, clock)


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[PushWriterProcess]:
    writer = PushWriterProcess(settings)
    await writer.start()
    try:
        yield writer
    finally:
        await writer.stop()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_pushes_are_written_by_the_child_exactly_once(
    writer: PushWriterProcess, session_maker: Maker, clock: FixedClock, world: World
) -> None:
    a = await device_of(session_maker, clock, world["amr_a"])
    b = await device_of(session_maker, clock, world["amr_b"])
    assert writer.pid is not None and writer.pid != os.getpid()
    first, second = await asyncio.gather(
        writer.push(a, finding_push(a, world["t1"], range(1, 11)), "r-a"),
        writer.push(b, finding_push(b, world["t1"], range(1, 4)), "r-b"),
    )
    assert [r.outcome for r in first.results] == ["applied"] * 10
    assert (first.last_seq, second.last_seq) == (10, 3)
    assert await count(session_maker, MutationLogEntry) == 13
    again = await writer.push(a, finding_push(a, world["t1"], range(1, 11)), "r-a2")
    assert [r.outcome for r in again.results] == ["skipped"] * 10
    assert await count(session_maker, MutationLogEntry) == 13


async def test_an_error_is_answered_as_the_writer_in_process_answers_it(
    writer: PushWriterProcess, session_maker: Maker, clock: FixedClock, world: World
) -> None:
    a = await device_of(session_maker, clock, world["amr_a"])
    b = await device_of(session_maker, clock, world["amr_b"])
    wrong = finding_push(a, world["t1"], range(1, 3))  # a's mutations, sent as b
    inline = PushWriter(session_maker, clock)
    await inline.start()
    try:
        with pytest.raises(DomainError) as expected:
            await inline.push(b, wrong, "r-1")
    finally:
        await inline.stop()
    with pytest.raises(DomainError) as got:
        await writer.push(b, wrong, "r-2")
    for attribute in ("status", "code", "title", "detail", "extra"):
        assert getattr(got.value, attribute) == getattr(expected.value, attribute)
    assert got.value.status == 422
    assert await count(session_maker, MutationLogEntry) == 0


async def test_a_killed_child_answers_503_and_the_next_push_starts_another(
    writer: PushWriterProcess, session_maker: Maker, clock: FixedClock, world: World
) -> None:
    a = await device_of(session_maker, clock, world["amr_a"])
    first_pid = writer.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGSTOP)  # it holds the push, then dies without answering
    held = asyncio.create_task(writer.push(a, finding_push(a, world["t1"], range(1, 6)), "r-1"))
    await asyncio.sleep(0.3)
    assert not held.done()
    os.kill(first_pid, signal.SIGKILL)
    with pytest.raises(PushNotStored) as refused:
        await asyncio.wait_for(held, 30)
    assert refused.value.status == 503
    assert await count(session_maker, MutationLogEntry) == 0  # it never ran: nothing stored
    # the phone sends it again; a new child writes it, once
    again = await writer.push(a, finding_push(a, world["t1"], range(1, 6)), "r-2")
    assert [r.outcome for r in again.results] == ["applied"] * 5
    assert writer.children_started == 2
    assert writer.pid not in (None, first_pid)
    assert await count(session_maker, MutationLogEntry) == 5


async def test_a_hung_child_is_killed_its_pushes_answered_503_and_replaced(
    settings: Settings, session_maker: Maker, clock: FixedClock, world: World
) -> None:
    writer = PushWriterProcess(settings, silent_after_s=2.0)
    await writer.start()
    try:
        a = await device_of(session_maker, clock, world["amr_a"])
        first_pid = writer.pid
        assert first_pid is not None
        await asyncio.sleep(2.5)  # idle longer than the limit: its silence counts from new work
        os.kill(first_pid, signal.SIGSTOP)
        held = asyncio.create_task(writer.push(a, finding_push(a, world["t1"], range(1, 3)), "r-0"))
        await asyncio.sleep(0.5)  # slow, not hung: it answers before the limit
        os.kill(first_pid, signal.SIGCONT)
        first = await asyncio.wait_for(held, 30)
        assert [r.outcome for r in first.results] == ["applied"] * 2
        os.kill(first_pid, signal.SIGSTOP)  # alive, holding the push, never answering
        loop = asyncio.get_running_loop()
        hung = asyncio.create_task(writer.push(a, finding_push(a, world["t1"], range(3, 6)), "r-1"))
        await asyncio.sleep(0.5)
        child = writer._child
        assert child is not None and not hung.done()
        child.heard_at = time.monotonic()  # as if it had answered another phone's push just now
        marked = loop.time()
        with pytest.raises(PushNotStored) as refused:
            await asyncio.wait_for(hung, 30)
        assert refused.value.status == 503
        # killed the limit after its last answer (2 s), not after a second full wait (3.5 s)
        assert 1.9 <= loop.time() - marked < 3.0
        for _ in range(100):
            if _gone(first_pid):
                break
            await asyncio.sleep(0.1)
        assert _gone(first_pid)
        assert await count(session_maker, MutationLogEntry) == 2  # the held push never ran
        # the phone sends it again; a new child writes it, once
        again = await writer.push(a, finding_push(a, world["t1"], range(3, 6)), "r-2")
        assert [r.outcome for r in again.results] == ["applied"] * 3
        assert writer.children_started == 2
        assert await count(session_maker, MutationLogEntry) == 5
    finally:
        await writer.stop()


async def test_the_silence_limit_stays_above_the_busy_timeout(settings: Settings) -> None:
    """A group that meets a held SQLite lock waits it out (and again push by push): a healthy
    child waiting on a lock is not silent."""
    slow = msgspec.structs.replace(settings, sqlite_busy_timeout_ms=45_000)
    assert PushWriterProcess(slow)._silent_after_s >= 3 * 45
    assert PushWriterProcess(settings)._silent_after_s >= writer_process.SILENT_CHILD_S


async def test_stopping_answers_the_pushes_in_flight_then_ends_the_child(
    settings: Settings, session_maker: Maker, clock: FixedClock, world: World
) -> None:
    phones = [await device_of(session_maker, clock, world["amr_a"]) for _ in range(3)]
    writer = PushWriterProcess(settings)
    await writer.start()
    pid = writer.pid
    assert pid is not None
    in_flight = [
        asyncio.create_task(writer.push(p, finding_push(p, world["t1"], range(1, 21)), f"r-{i}"))
        for i, p in enumerate(phones)
    ]
    await asyncio.sleep(0)  # each has been handed to the child
    await writer.stop()
    answers = await asyncio.gather(*in_flight)
    assert all([r.outcome for r in answer.results] == ["applied"] * 20 for answer in answers)
    assert await count(session_maker, MutationLogEntry) == 60
    assert _gone(pid)
    with pytest.raises(ServerStopping):
        await writer.push(phones[0], finding_push(phones[0], world["t1"], range(21, 22)), "late")


async def test_the_child_ends_when_the_server_goes_away(
    writer: PushWriterProcess, session_maker: Maker, clock: FixedClock, world: World
) -> None:
    """A server killed with ``kill -9`` closes the socket; the child finishes and exits."""
    a = await device_of(session_maker, clock, world["amr_a"])
    pid = writer.pid
    assert pid is not None
    child = writer._child
    assert child is not None
    child.writer.transport.abort()  # what the kernel does to the server's end when it dies
    for _ in range(300):
        if _gone(pid):
            break
        await asyncio.sleep(0.1)
    assert _gone(pid)
    answer = await writer.push(a, finding_push(a, world["t1"], range(1, 2)), "r-1")
    assert [r.outcome for r in answer.results] == ["applied"]


async def test_the_app_writes_in_a_child_on_sqlite_unless_given_a_clock(
    settings: Settings, clock: FixedClock
) -> None:
    on_sqlite = settings.effective_database_url.startswith("sqlite")
    assert isinstance(create_app(settings, clock=clock).state.ctx.push_writer, PushWriter)
    served = create_app(settings).state.ctx.push_writer
    assert isinstance(served, PushWriterProcess if on_sqlite else PushWriter)
    inline = Settings(**{**_fields(settings), "push_writer": "inline"})
    assert isinstance(create_app(inline).state.ctx.push_writer, PushWriter)
    in_child = Settings(**{**_fields(settings), "push_writer": "process"})
    assert isinstance(create_app(in_child).state.ctx.push_writer, PushWriterProcess)
    with pytest.raises(SettingsError):
        create_app(in_child, clock=clock)
    in_memory = Settings(**{**_fields(settings), "database_url": "sqlite+aiosqlite:///:memory:"})
    assert isinstance(create_app(in_memory).state.ctx.push_writer, PushWriter)  # a child's own
    with pytest.raises(SettingsError):  # database would be another, empty one
        create_app(Settings(**{**_fields(in_memory), "push_writer": "process"}))


async def test_a_push_over_http_is_written_by_the_child(
    settings: Settings, session_maker: Maker, clock: FixedClock, world: World
) -> None:
    """The served app (``zsjg demo``'s way): sign in, push, the child writes; another user's
    device cannot push as this one."""
    app = create_app(Settings(**{**_fields(settings), "push_writer": "process"}))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        assert isinstance(app.state.ctx.push_writer, PushWriterProcess)
        device = str(uuid.uuid4())
        headers = await login(client, "amr_a", uuid.UUID(device))
        p = Principal(user_id=world["amr_a"], device_id=uuid.UUID(device), role=Role.INSPECTOR)
        body = {
            "protocol_version": 1,
            "app_version": "test",
            "client_id": device,
            "mutations": [
                {
                    "id": str(uuid.uuid4()),
                    "client_id": device,
                    "seq": 1,
                    "hlc": f"{1_796_000_000_000:015d}.000000.{device}",
                    "kind": "create",
                    "entity": "finding",
                    "entity_id": str(uuid.uuid4()),
                    "task_id": str(world["t1"]),
                    "payload": {"text": "现场发现"},
                }
            ],
        }
        pushed = await client.post("/api/v1/sync/push", json=body, headers=headers)
        assert pushed.status_code == 200, pushed.text
        assert [r["outcome"] for r in pushed.json()["results"]] == ["applied"]
        as_other = await login(client, "amr_b")
        refused = await client.post("/api/v1/sync/push", json=body, headers=as_other)
        assert refused.status_code == 422, refused.text
    async with session_maker() as session:
        logged = (await session.scalars(select(MutationLogEntry.device_id))).all()
    assert logged == [p.device_id]


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__struct_fields__}

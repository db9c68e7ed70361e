"""Pushes applied in groups: the pushes that arrive together share one transaction and one commit.

A push is small work around a durable commit (an fsync of the WAL on SQLite, of the WAL on
PostgreSQL too) and the counter's lock, which serialises every push anyway. When phones
come back into coverage together — the morning sync, the end of a market inspection — many
pushes wait for that lock at once. The writer takes whatever is waiting (up to a limit),
applies the pushes one after another in one transaction, in arrival order, and commits once:
one fsync, one turn of the counter's lock and one append to the audit chain for the group.

Nothing about a push changes: it is applied exactly as alone (the engine sees the pushes
before it in the group as it would have seen them committed) and its answer is sent only
after the commit that makes it durable. A push that fails (which the engine's rules make
rare: a bad mutation is stored as rejected, not raised) rolls the group back and gets its own
error; the others are applied again in a new transaction. If writing the devices' states or
the commit fails, the group's pushes are applied again one transaction each, so that a failure
falls on its own push; a lone push whose commit fails is answered 503 (``push-not-stored``)
and its phone sends it again (what had applied is answered from the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.clock import Clock
from backend.db.engine import write_intent
from backend.db.sqlite_driver import statements_in_place
from backend.domain.audit.service import Actor, Audit
from backend.domain.auth.principal import Principal
from backend.errors import DomainError
from sync import PushRequest, PushResponse

from .services import SyncService
from .store import end_turn, take_turn

logger = logging.getLogger(__name__)

MAX_GROUP = 32
"""At most this many pushes share a transaction …"""
MAX_GROUP_MUTATIONS = 2000
"""… and at most about this many mutations (a push of up to 500 joins while under it): a group
holds SQLite's one write lock well under a second, so other writers are not kept waiting."""
STOP_TIMEOUT_S = 30.0
"""How long stopping waits for the pushes already queued."""


class ServerStopping(DomainError):
    status = 503
    code = "server-stopping"
    title = "The server is stopping; send it again shortly"


@dataclass
class _Job:
    principal: Principal
    request: PushRequest
    request_id: str | None
    done: asyncio.Future[PushResponse] = field(repr=False)


class PushWriting(Protocol):
    """What the app holds to write pushes: :class:`PushWriter`, or the same in a child process."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def push(
        self, principal: Principal, request: PushRequest, request_id: str | None
    ) -> PushResponse: ...


class PushWriter:
    """The app's one writer of pushes (started and stopped with the app)."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._session_maker = session_maker
        self._clock = clock
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self.groups = 0
        """How many transactions the writer has committed."""

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(self._queue), name="sync-push-writer")

    async def stop(self) -> None:
        """Finish the pushes already waiting, then stop; later pushes are refused with 503."""
        queue, task = self._queue, self._task
        self._queue = None
        if queue is not None and task is not None:
            drained = asyncio.create_task(queue.join())
            await asyncio.wait(
                [drained, task], timeout=STOP_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
            for pending in (drained, task):
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
            while not queue.empty():  # never started: not stored, its phone sends it again
                _settle(queue.get_nowait(), ServerStopping("服务器正在停止，请稍后重新同步"))

    async def push(
        self, principal: Principal, request: PushRequest, request_id: str | None
    ) -> PushResponse:
        """Queue the push and wait until it is committed (or has failed on its own)."""
        # a caller that goes away does not take the push back: it applies, and the phone's
        # next push of the same mutations is answered from the log
        return await asyncio.shield(self.submit(principal, request, request_id))

    def submit(
        self, principal: Principal, request: PushRequest, request_id: str | None
    ) -> asyncio.Future[PushResponse]:
        """Queue the push now; the future is its answer once committed (or its own failure)."""
        queue = self._queue
        if queue is None:
            raise ServerStopping("服务器正在停止，请稍后重新同步")
        job = _Job(principal, request, request_id, asyncio.get_running_loop().create_future())
        queue.put_nowait(job)
        return job.done

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            group = [await queue.get()]
            size = len(group[0].request.mutations)
            while len(group) < MAX_GROUP and size < MAX_GROUP_MUTATIONS and not queue.empty():
                group.append(queue.get_nowait())
                size += len(group[-1].request.mutations)
            try:
                await self._apply(group)
            except asyncio.CancelledError:  # stopped mid-group: rolled back, not stored
                for job in group:
                    _settle(job, ServerStopping("服务器正在停止，请稍后重新同步"))
                raise
            except Exception as exc:  # the commit itself, or the database gone
                logger.exception("a group of %d push(es) could not be committed", len(group))
                for job in group:
                    _settle(job, PushNotStored("同步数据未能保存，请稍后重新同步"), cause=exc)
            finally:
                for _ in group:
                    queue.task_done()

    async def _apply(self, group: list[_Job]) -> None:
        """Apply the group in one transaction; a push that fails is answered alone, the rest again."""
        while group:
            failed: tuple[int, Exception] | None = None
            applied: list[tuple[_Job, PushResponse]] = []
            try:
                with write_intent(), statements_in_place():
                    async with self._session_maker() as session, session.begin():
                        turn = await take_turn(session, [j.principal.device_id for j in group])
                        for index, job in enumerate(group):
                            audit = Audit(
                                session=session,
                                clock=self._clock,
                                actor=_actor(job.principal),
                                request_id=job.request_id,
                                session_maker=self._session_maker,
                            )
                            service = SyncService(session, self._clock, audit)
                            try:
                                response = await service.apply(job.principal, job.request, turn)
                            except Exception as exc:
                                failed = (index, exc)
                                raise _RollBack from exc
                            applied.append((job, response))
                            # the statements run on the loop's thread (statements_in_place): let
                            # the other requests have a turn between pushes, not only at the commit
                            await asyncio.sleep(0)
                        try:
                            await end_turn(session, turn)
                        except Exception as exc:
                            raise _Split from exc  # whose state could not be written?
            except _RollBack:
                assert failed is not None
                index, error = failed
                logger.warning(
                    "push from device %s failed; %d other push(es) of its group are applied again",
                    group[index].principal.device_id,
                    len(group) - 1,
                    exc_info=error,
                )
                _settle(group[index], error)
                group = group[:index] + group[index + 1 :]
                continue
            except Exception as exc:  # writing the devices' states, or the commit
                if len(group) == 1:
                    if isinstance(exc, _Split) and exc.__cause__ is not None:
                        raise exc.__cause__ from None
                    raise
                # one transaction each: whatever it was falls on its own push, if on one
                for job in group:
                    try:
                        await self._apply([job])
                    except Exception as alone:
                        logger.exception("push from device %s failed", job.principal.device_id)
                        _settle(job, alone)
                return
            self.groups += 1
            for job, response in applied:
                if not job.done.done():
                    job.done.set_result(response)
            return


class _Split(Exception):
    """Writing the group's device states failed: the pushes are applied one by one."""


class _RollBack(Exception):
    """One push of the group failed: the group's transaction is rolled back."""


def _actor(principal: Principal) -> Actor:
    return Actor(
        role=principal.role.value, user_id=principal.user_id, device_id=principal.device_id
    )


class PushNotStored(DomainError):
    """The group's commit failed: nothing of the push is stored (the phone sends it again)."""

    status = 503
    code = "push-not-stored"
    title = "The push was not stored; send it again"


def _settle(job: _Job, exc: BaseException, *, cause: BaseException | None = None) -> None:
    if cause is not None:
        exc.__cause__ = cause
    if not job.done.done():
        job.done.set_exception(exc)


__all__ = [
    "MAX_GROUP",
    "MAX_GROUP_MUTATIONS",
    "PushNotStored",
    "PushWriter",
    "PushWriting",
    "ServerStopping",
]

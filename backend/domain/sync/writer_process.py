"""The push writer in a process of its own: the server keeps HTTP, a child process writes.

On SQLite one writer applies every push, and a push costs Python CPU on one thread: the
HTTP request around it (reading, signing-in, answering) and the writer's work (the engine,
the statements, the audit events). In one process both share one core, and the second core
idles. Here the server keeps HTTP, sign-in and the envelope's check, and hands each push to
a child process that runs the same :class:`PushWriter` (its groups, its one commit per
group) with its own engine on the same database.

The two talk over a socket pair the server makes when it starts the child (nothing on disk,
nothing another user can connect to). Each message is a frame: four bytes of length, then
msgspec JSON. The first frame gives the child the settings; the child answers when it is
ready; then each push goes as a job (the caller's ids, the request, the request id) and
comes back as the ``PushResponse`` or the error's status, code and detail, by job number.

Failures:

* the child dies (killed, out of memory): the pushes it held are answered 503
  ``push-not-stored`` — whether each had committed is unknown, so the phone sends it again
  and the log answers what had applied — and the next push starts a new child;
* the server dies: the child reads the end of the socket, finishes the pushes it already
  holds, and exits (it is in a session of its own, so a terminal's Ctrl-C reaches only the
  server, which stops it in order);
* the child hangs (stopped, or stuck on a disk that does not return): once it has held
  pushes for ``SILENT_CHILD_S`` without answering any (counted from its last answer, or from
  the work given to it idle), it is killed and its pushes are answered as in the first case;
  a child that answers, however far behind, is left to work;
* stopping: the server closes its end, the child drains its queue (its answers still come
  back) and exits; a child still running after the writer's stop timeout is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import struct
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from backend.domain.auth.principal import Principal
from backend.errors import DomainError
from backend.settings import Settings
from sync import PushRequest, PushResponse

from .writer import STOP_TIMEOUT_S, PushNotStored, PushWriter, ServerStopping

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
"""A frame longer than this is a broken stream, not a push (the server refuses larger bodies)."""
START_TIMEOUT_S = 60.0
"""How long the child may take to import, open the database and say it is ready."""
RESPAWN_PAUSE_S = 1.0
"""After a child that would not start, pushes are refused this long before the next try."""
SILENT_CHILD_S = 60.0
"""A child that holds pushes and has answered none for this long is taken as hung and killed
(a group of the largest size takes well under a second; a phone gives up after a minute). At
least three times SQLite's busy timeout: a group that meets a held lock waits it out, and again
for each push when they are applied one by one."""


class _Job(msgspec.Struct, array_like=True, frozen=True):
    id: int
    user_id: uuid.UUID
    device_id: uuid.UUID
    role: str
    request_id: str | None
    request: PushRequest


class _Failure(msgspec.Struct, array_like=True, frozen=True):
    status: int
    code: str
    title: str
    detail: str
    extra: dict[str, Any]


class _Answer(msgspec.Struct, array_like=True, frozen=True):
    id: int
    response: PushResponse | None = None
    failure: _Failure | None = None


class _Ready(msgspec.Struct, array_like=True, frozen=True):
    pid: int


def _encode_hook(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot send {type(value)!r}")


def _decode_hook(type_: type, value: Any) -> Any:
    if type_ is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot read {type_!r}")


_encoder = msgspec.json.Encoder(enc_hook=_encode_hook)
_job_decoder = msgspec.json.Decoder(_Job)
_answer_decoder = msgspec.json.Decoder(_Answer)


def _frame(message: Any) -> bytes:
    body = _encoder.encode(message)
    return _LENGTH.pack(len(body)) + body


async def _read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's body, or ``None`` at the end of the stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionError("the stream ended inside a frame's length") from exc
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise ConnectionError(f"a frame of {length} bytes is not a push")
    return await reader.readexactly(length)


def _error_from(failure: _Failure) -> DomainError:
    """The child's error as the server answers it: same status, code, title, detail and extras."""
    kind = type(
        "WriterError",
        (DomainError,),
        {"status": failure.status, "code": failure.code, "title": failure.title},
    )
    error: DomainError = kind(failure.detail, **failure.extra)
    return error


class _Child:
    """One running child: its process, its end of the socket and the pushes it holds."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[PushResponse]] = {}
        self.answers: asyncio.Task[None] | None = None
        self.alive = True
        self.heard_at = time.monotonic()
        """When the child last answered, or was given work while it held none."""


class PushWriterProcess:
    """The server's side: same interface as :class:`PushWriter`, the work done in a child."""

    def __init__(self, settings: Settings, *, silent_after_s: float | None = None) -> None:
        self._settings = settings
        self._silent_after_s = (
            silent_after_s
            if silent_after_s is not None
            else max(SILENT_CHILD_S, 3 * settings.sqlite_busy_timeout_ms / 1000)
        )
        self._child: _Child | None = None
        self._spawning = asyncio.Lock()
        self._numbers = itertools.count(1)
        self._stopped = True
        self._refuse_until = 0.0
        self.children_started = 0
        """How many children this writer has started (a restart after a death counts)."""

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        child = self._child
        return child.process.pid if child is not None and child.alive else None

    async def start(self) -> None:
        self._stopped = False
        await self._running_child()

    async def stop(self) -> None:
        """Let the child finish the pushes it holds (their answers still arrive), then end it."""
        self._stopped = True
        async with self._spawning:
            child = self._child
            self._child = None
        if child is None:
            return
        if child.alive:
            # the end of the stream (the socket stays open the other way, for the answers): the
            # child drains its queue, answers, and exits
            child.writer.write_eof()
        try:
            await asyncio.wait_for(child.process.wait(), timeout=STOP_TIMEOUT_S + 10)
        except TimeoutError:
            logger.error("the push writer (pid %d) did not stop; it is killed", child.process.pid)
            with contextlib.suppress(ProcessLookupError):
                child.process.kill()
            await child.process.wait()
        if child.answers is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await child.answers
        self._fail_pending(child, ServerStopping("服务器正在停止，请稍后重新同步"))

    async def push(
        self, principal: Principal, request: PushRequest, request_id: str | None
    ) -> PushResponse:
        """Hand the push to the child and wait until it is committed (or has failed on its own)."""
        child = await self._running_child()
        number = next(self._numbers)
        done: asyncio.Future[PushResponse] = asyncio.get_running_loop().create_future()
        if not child.pending:  # an idle child's silence counts from the work it is given now
            child.heard_at = time.monotonic()
        child.pending[number] = done
        job = _Job(
            id=number,
            user_id=principal.user_id,
            device_id=principal.device_id,
            role=principal.role.value,
            request_id=request_id,
            request=request,
        )
        child.writer.write(_frame(job))
        while True:
            # until the child would have been silent too long, counted from its last answer
            left = self._silent_after_s - (time.monotonic() - child.heard_at)
            try:
                # a caller that goes away does not take the push back, as with the writer in
                # process
                return await asyncio.wait_for(asyncio.shield(done), max(left, 0.0))
            except TimeoutError:
                self._kill_if_silent(child)  # then ``done`` has failed; else wait on

    def _kill_if_silent(self, child: _Child) -> None:
        silent = time.monotonic() - child.heard_at
        if not child.alive or not child.pending or silent < self._silent_after_s:
            return  # gone already, or it answered meanwhile (however far behind it is)
        logger.error(
            "push writer process %d has held %d push(es) for %.0f s without answering any; "
            "it is killed",
            child.process.pid,
            len(child.pending),
            silent,
        )
        child.alive = False  # the next push starts another
        with contextlib.suppress(ProcessLookupError):
            child.process.kill()
        # answered now, not when the killed process is reaped (one stuck in the kernel on a
        # disk dies only once the disk returns): whatever had committed, the log answers again
        self._fail_pending(
            child, PushNotStored("同步未完成，请稍后重新同步（已保存的部分不会重复）")
        )

    async def _running_child(self) -> _Child:
        if self._stopped:
            raise ServerStopping("服务器正在停止，请稍后重新同步")
        child = self._child
        if child is not None and child.alive:
            return child
        async with self._spawning:
            if self._stopped:
                raise ServerStopping("服务器正在停止，请稍后重新同步")
            child = self._child
            if child is not None and child.alive:
                return child
            if time.monotonic() < self._refuse_until:
                raise PushNotStored("同步服务正在恢复，请稍后重新同步")
            try:
                child = await self._spawn()
            except Exception as exc:
                self._refuse_until = time.monotonic() + RESPAWN_PAUSE_S
                logger.exception("the push writer process could not be started")
                raise PushNotStored("同步服务正在恢复，请稍后重新同步") from exc
            self._child = child
            return child

    async def _spawn(self) -> _Child:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl-C goes to the server, which stops it
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        try:
            reader, writer = await asyncio.open_connection(sock=ours)
            writer.write(_frame(self._settings))
            ready_frame = await asyncio.wait_for(_read_frame(reader), START_TIMEOUT_S)
            if ready_frame is None:
                raise ConnectionError("the push writer process ended before it was ready")
            ready = msgspec.json.decode(ready_frame, type=_Ready)
        except BaseException:
            ours.close()
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        child = _Child(process, reader, writer)
        child.answers = asyncio.create_task(self._read_answers(child), name="push-writer-answers")
        self.children_started += 1
        logger.info("push writer process %d started", ready.pid)
        return child

    async def _read_answers(self, child: _Child) -> None:
        try:
            while (body := await _read_frame(child.reader)) is not None:
                child.heard_at = time.monotonic()
                answer = _answer_decoder.decode(body)
                done = child.pending.pop(answer.id, None)
                if done is None or done.done():
                    continue
                if answer.response is not None:
                    done.set_result(answer.response)
                elif answer.failure is not None:
                    done.set_exception(_error_from(answer.failure))
                else:  # pragma: no cover - the child always sends one of the two
                    done.set_exception(PushNotStored("同步数据未能保存，请稍后重新同步"))
        except Exception:
            logger.exception("the push writer's answers could not be read")
        finally:
            child.alive = False
            child.writer.close()
            held = len(child.pending)
            # whatever it still held cannot be answered now: a phone sends it again, and the log
            # answers what had committed
            self._fail_pending(
                child,
                ServerStopping("服务器正在停止，请稍后重新同步")
                if self._stopped
                else PushNotStored("同步未完成，请稍后重新同步（已保存的部分不会重复）"),
            )
            try:
                returncode = await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_S + 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                returncode = await child.process.wait()
            if not self._stopped:
                logger.error(
                    "push writer process %d ended (exit %s) holding %d push(es), answered 503; "
                    "the next push starts another",
                    child.process.pid,
                    returncode,
                    held,
                )

    @staticmethod
    def _fail_pending(child: _Child, error: DomainError) -> None:
        pending, child.pending = child.pending, {}
        for done in pending.values():
            if not done.done():
                done.set_exception(error)


# --- the child -----------------------------------------------------------------------------


async def _child_main(fd: int) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from backend.clock import SystemClock
    from backend.db.engine import create_engine
    from backend.db.models import Role

    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    settings_frame = await _read_frame(reader)
    if settings_frame is None:
        return
    settings = msgspec.json.decode(settings_frame, type=Settings, dec_hook=_decode_hook)
    engine = create_engine(
        settings.effective_database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        echo=settings.database_echo,
    )
    pushes = PushWriter(async_sessionmaker(engine, expire_on_commit=False), SystemClock())
    await pushes.start()
    writer.write(_frame(_Ready(pid=os.getpid())))
    running: set[asyncio.Task[None]] = set()

    async def reply(job: _Job, done: asyncio.Future[PushResponse]) -> None:
        try:
            answer = _Answer(id=job.id, response=await done)
        except DomainError as exc:
            answer = _Answer(
                id=job.id,
                failure=_Failure(
                    status=exc.status,
                    code=exc.code,
                    title=exc.title,
                    detail=exc.detail,
                    extra=exc.extra,
                ),
            )
        except Exception:
            logger.exception("push from device %s failed", job.device_id)
            answer = _Answer(
                id=job.id,
                failure=_Failure(
                    status=500,
                    code="internal-error",
                    title="Internal Server Error",
                    detail="服务器内部错误，已记录",  # as the server answers any unexpected error
                    extra={},
                ),
            )
        if not writer.is_closing():
            writer.write(_frame(answer))

    try:
        while (body := await _read_frame(reader)) is not None:
            job = _job_decoder.decode(body)
            principal = Principal(user_id=job.user_id, device_id=job.device_id, role=Role(job.role))
            # queued now, in the order the jobs arrive: the end of the stream cannot overtake it
            task = asyncio.create_task(
                reply(job, pushes.submit(principal, job.request, job.request_id))
            )
            running.add(task)
            task.add_done_callback(running.discard)
    finally:  # the server closed its end (stopping) or is gone: finish what is held, then exit
        await pushes.stop()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        await engine.dispose()


def main() -> None:
    """``python -m backend.domain.sync.writer_process FD``: the child, started by the server."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(levelname)s - %(asctime)s - push-writer %(process)d - %(name)s - %(message)s",
    )
    asyncio.run(_child_main(int(sys.argv[1])))


if __name__ == "__main__":
    main()


__all__ = ["PushWriterProcess"]

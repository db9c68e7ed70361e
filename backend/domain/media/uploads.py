"""Resumable uploads into the content-addressed store, and what makes them safe.

An upload is created for one task by a user who holds (or held) it, with the sha256 the
phone computed. Its bytes go to a spool file beside the store, one PATCH at a time:

* no database transaction is held while a phone sends bytes: a PATCH takes an exclusive
  lock on the spool file (another writer gets 423), checks the offset, streams the body to
  the file and flushes it to disk (``fsync``) before it answers;
* the spool file's size is the upload's offset (as in tusd): what a 204 reported is on
  disk, and after a crash HEAD reports what the file really holds;
* a chunk with ``Upload-Checksum`` that does not match is cut back whole (460); a chunk cut
  off by a lost connection keeps what arrived, so a resume re-sends less than one chunk;
* the first bytes must announce JPEG, PNG or WebP, or the upload is refused at once (415);
* at the last byte the whole file is hashed again and must equal the declared sha256, and
  its headers are read (type, pixels, EXIF); only then does it enter the store. A refusal
  stores nothing and removes the spool file. The pixels are decoded afterwards, off the
  phone's wait, for the thumbnail; an image that cannot be decoded whole is kept (it is
  what the phone captured) and marked with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.clock import Clock
from backend.db.engine import write_intent
from backend.db.models import StoredFile, Upload
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Actor, Audit
from backend.domain.auth.principal import Principal
from backend.domain.sync.store import task_states
from backend.errors import (
    ChecksumMismatch,
    DomainError,
    FileTooLarge,
    TaskNotFound,
    TusProtocolError,
    UnsupportedFileType,
    UploadBusy,
    UploadGone,
    UploadNotFound,
    UploadOffsetMismatch,
)

from . import images
from .storage import BlobStore
from .tus import Checksum

logger = logging.getLogger("zsjg.media")

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
HASH_BLOCK = 1024 * 1024
SWEEP_BATCH = 50
FLUSH_EVERY = 1024 * 1024
"""While a body arrives, its bytes are flushed to disk in the background every this many."""
SWEEP_EVERY = timedelta(minutes=1)
"""Expired uploads are swept at a creation at most this often."""


class ClientGone(Exception):
    """The phone's connection ended in the middle of a PATCH body."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    max_pixels: int
    expiry: timedelta


_SELECT_UPLOAD = select(*Upload.__table__.c).where(Upload.__table__.c.id == bindparam("id"))
_ATTRIBUTE = {"metadata": "metadata_"}
"""Column names that differ from the model's attribute names."""


def thumbnail_key(digest: str) -> str:
    return f"thumbnails/{digest}.jpg"


class UploadService:
    """The app's one upload service (it holds no request state)."""

    def __init__(
        self,
        engine: AsyncEngine,
        session_maker: async_sessionmaker[AsyncSession],
        store: BlobStore,
        spool: Path,
        clock: Clock,
        limits: Limits,
    ) -> None:
        self._sessions = session_maker
        self._engine = engine
        self.store = store
        self._spool = spool
        self._clock = clock
        self.limits = limits
        self._pending: set[asyncio.Task[bool]] = set()
        self._thumbnailer: ThreadPoolExecutor | None = None
        self._next_sweep = datetime.min.replace(tzinfo=UTC)

    # -- creation -------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        length: int,
        metadata: dict[str, str],
        body: AsyncIterator[bytes] | None = None,
        checksum: Checksum | None = None,
        request_id: str = "",
    ) -> Upload:
        """A new upload of ``length`` bytes whose sha256 and task the metadata names.

        With a ``body`` (creation-with-upload) its bytes are written at once; a file that
        arrives whole is stored with one transaction, its upload row included.
        """
        if length > self.limits.max_bytes:
            raise FileTooLarge(
                f"文件 {length} 字节，超过上限 {self.limits.max_bytes} 字节",
                max_bytes=self.limits.max_bytes,
            )
        if length == 0:
            raise TusProtocolError("Upload-Length 为 0：空文件不是证据")
        digest = metadata.get("sha256", "")
        if not _DIGEST.fullmatch(digest):
            raise TusProtocolError("Upload-Metadata 须含 sha256（64 位小写十六进制，文件的摘要）")
        try:
            task_id = uuid.UUID(metadata.get("task_id", ""))
        except ValueError as exc:
            raise TusProtocolError("Upload-Metadata 须含 task_id（任务编号 UUID）") from exc
        kept = {k: v[:200] for k, v in metadata.items() if k in {"filename", "filetype", "kind"}}
        kept |= {"sha256": digest, "task_id": str(task_id)}
        now = self._clock.now()
        upload = Upload(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            device_id=principal.device_id,
            task_id=task_id,
            length=length,
            offset=0,
            digest=digest,
            metadata_=kept,
            state="open",
            created_at=now,
            expires_at=now + self.limits.expiry,
        )
        self._spool.mkdir(parents=True, exist_ok=True)
        spool_path = self._spool_path(upload.id)
        spool_path.touch(exist_ok=False)
        try:
            if body is None:
                with write_intent():
                    async with self._sessions() as session, session.begin():
                        if not await _holds_or_held(session, principal.user_id, task_id):
                            raise TaskNotFound("没有这个任务，或它不是您的任务")
                        session.add(upload)
            else:
                async with self._sessions() as session:
                    if not await _holds_or_held(session, principal.user_id, task_id):
                        raise TaskNotFound("没有这个任务，或它不是您的任务")
                upload = await self._write_locked(
                    upload, 0, body, checksum, _actor(principal), request_id, new=True
                )
        except BaseException:
            if upload.state != "stored":
                spool_path.unlink(missing_ok=True)
            raise
        if self._clock.now() >= self._next_sweep:
            self._next_sweep = self._clock.now() + SWEEP_EVERY
            await self.sweep_expired()
        return upload

    # -- reading where an upload stands ----------------------------------------------------

    async def find(self, principal: Principal, upload_id: uuid.UUID) -> Upload:
        """The caller's own upload, as it stands on disk (HEAD); 423 while a PATCH writes it."""
        upload = await self._load(principal, upload_id)
        if upload.state == "open":
            upload = await self._recover_if_stored(upload)
        if upload.state == "open":
            with self._locked(upload.id) as spool:
                upload.offset = _size(spool)
        return upload

    async def _load(self, principal: Principal, upload_id: uuid.UUID) -> Upload:
        """The upload's row, read on a plain connection (every PATCH reads it), as a detached object."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_SELECT_UPLOAD, {"id": upload_id})).first()
        upload = (
            None
            if row is None
            else Upload(**{_ATTRIBUTE.get(k, k): v for k, v in row._mapping.items()})
        )
        if (
            upload is None
            or upload.user_id != principal.user_id
            or upload.device_id != principal.device_id
            or upload.state == "terminated"
        ):
            raise UploadNotFound("没有这个上传，或它不属于本设备")
        if upload.state in ("refused", "expired") or (
            upload.state == "open" and upload.expires_at <= self._clock.now()
        ):
            raise UploadGone(
                "上传已过期或已被拒绝，请重新开始上传",
                state=upload.state,
                refusal=upload.refusal,
            )
        return upload

    # -- writing ---------------------------------------------------------------------------

    async def write(
        self,
        principal: Principal,
        upload_id: uuid.UUID,
        offset: int,
        body: AsyncIterator[bytes],
        checksum: Checksum | None,
        request_id: str,
    ) -> Upload:
        """Append the PATCH body at ``offset``; at the last byte, check the file and store it."""
        upload = await self._load(principal, upload_id)
        if upload.state == "open":
            upload = await self._recover_if_stored(upload)
        if upload.state == "stored":
            if offset != upload.length:
                raise UploadOffsetMismatch(
                    f"上传已完成（{upload.length} 字节）", offset=upload.length
                )
            return upload
        return await self._write_locked(
            upload, offset, body, checksum, _actor(principal), request_id, new=False
        )

    async def _write_locked(
        self,
        upload: Upload,
        offset: int,
        body: AsyncIterator[bytes],
        checksum: Checksum | None,
        actor: Actor,
        request_id: str,
        *,
        new: bool,
    ) -> Upload:
        """Under the spool file's lock: append at ``offset``; store the file once it is whole.

        ``new``: the upload's row is not written yet (creation-with-upload); it is written
        with the outcome, in the same transaction.
        """
        with self._locked(upload.id) as spool:
            start = _size(spool)
            if offset != start:
                raise UploadOffsetMismatch(
                    f"Upload-Offset {offset} 与已收到的 {start} 字节不符", offset=start
                )
            # a request that carries the file from its first byte hashes it on the way in;
            # one that resumes it hashes the whole file from the disk once it is complete
            whole = hashlib.sha256() if start == 0 else None
            try:
                upload.offset = await self._append(upload, spool, start, body, checksum, whole)
            except DomainError as exc:
                await _truncate(spool, start)
                if isinstance(exc, UnsupportedFileType | FileTooLarge):
                    await self._refuse(upload, exc, actor, request_id, new=new)
                raise  # a creating request that fails leaves no upload: it gave out no Location
            if upload.offset == upload.length:
                digest = whole.hexdigest() if whole is not None else None
                upload = await self._finish(upload, actor, request_id, digest, new=new)
            elif new:  # the creating request brought part of the file
                await self._insert(upload)
        return upload

    async def _insert(self, upload: Upload) -> None:
        with write_intent():
            async with self._sessions() as session, session.begin():
                session.add(upload)

    async def _append(
        self,
        upload: Upload,
        spool: BinaryIO,
        start: int,
        body: AsyncIterator[bytes],
        checksum: Checksum | None,
        whole: hashlib._Hash | None,
    ) -> int:
        room = upload.length - start
        written = 0
        chunk_hash = checksum.new() if checksum else None
        judged = start >= images.HEAD_BYTES  # the type is judged on the file's first bytes
        head = b""
        if not judged:
            spool.seek(0)
            head = spool.read(start)
        spool.seek(start)
        # bytes are flushed to disk in the background while more arrive, so that the flush
        # before the answer has only the tail left to write
        flushing: asyncio.Future[None] | None = None
        unflushed = 0
        loop = asyncio.get_running_loop()
        try:
            async for piece in body:
                if written + len(piece) > room:
                    raise TusProtocolError(
                        f"写入超过 Upload-Length（{upload.length} 字节）", offset=start
                    )
                if not judged:
                    head += piece[: images.HEAD_BYTES]
                    images.refuse_unless_image(head[: images.HEAD_BYTES])
                    judged = len(head) >= images.HEAD_BYTES
                spool.write(piece)
                if chunk_hash is not None:
                    chunk_hash.update(piece)
                if whole is not None:
                    whole.update(piece)
                written += len(piece)
                unflushed += len(piece)
                if unflushed >= FLUSH_EVERY and (flushing is None or flushing.done()):
                    if flushing is not None:
                        flushing.result()
                    spool.flush()
                    flushing = loop.run_in_executor(None, os.fdatasync, spool.fileno())
                    unflushed = 0
        except ClientGone:
            if chunk_hash is not None:  # a partial chunk cannot be checked: none of it is kept
                await _truncate(spool, start)
                return start
            logger.info("upload %s: connection lost after %d bytes; kept", upload.id, written)
        finally:
            if flushing is not None:  # never leave a flush running on a file about to close
                await flushing
        spool.flush()
        await asyncio.to_thread(os.fsync, spool.fileno())
        if (
            checksum is not None
            and chunk_hash is not None
            and chunk_hash.digest() != checksum.expected
        ):
            raise ChecksumMismatch(f"本块 {checksum.algorithm} 校验不符，已丢弃本块", offset=start)
        return start + written

    async def _finish(
        self, upload: Upload, actor: Actor, request_id: str, digest: str | None, *, new: bool
    ) -> Upload:
        path = self._spool_path(upload.id)
        if digest is None:
            digest = await asyncio.to_thread(_sha256_of, path)
        if digest != upload.digest:
            exc: DomainError = ChecksumMismatch(
                f"整个文件的 sha256 为 {digest}，与声明的 {upload.digest} 不符；请重新上传",
                declared=upload.digest,
                actual=digest,
            )
            await self._refuse(upload, exc, actor, request_id, new=new)
            raise exc
        try:
            facts = await asyncio.to_thread(images.examine, path, max_pixels=self.limits.max_pixels)
        except (UnsupportedFileType, FileTooLarge) as refusal:
            await self._refuse(upload, refusal, actor, request_id, new=new)
            raise
        # the file enters the store before its row: a crash between leaves a file that
        # ``_recover_if_stored`` records, never a row without its file
        await asyncio.to_thread(self.store.put, upload.digest, path)
        return await self._record_stored(upload, facts, actor, request_id, new=new)

    async def _record_stored(
        self,
        upload: Upload,
        facts: images.ImageFacts,
        actor: Actor,
        request_id: str,
        *,
        new: bool = False,
    ) -> Upload:
        now = self._clock.now()
        with write_intent():
            async with self._sessions() as session, session.begin():
                if new:
                    session.add(upload)
                    await session.flush()
                known = await session.get(StoredFile, upload.digest)
                if known is None:
                    session.add(
                        StoredFile(
                            digest=upload.digest,
                            size=upload.length,
                            media_type=facts.media_type,
                            width=facts.width,
                            height=facts.height,
                            exif_taken_at=facts.exif_taken_at,
                            exif_latitude=facts.exif_latitude,
                            exif_longitude=facts.exif_longitude,
                            has_thumbnail=False,
                            stored_at=now,
                            first_user_id=upload.user_id,
                        )
                    )
                await session.execute(
                    update(Upload)
                    .where(Upload.id == upload.id)
                    .values(state="stored", offset=upload.length, ended_at=now)
                )
                Audit(session, self._clock, actor, request_id).record(
                    AuditAction.FILE_ACCEPTED,
                    subject_kind="file",
                    subject_id=upload.digest,
                    task_id=upload.task_id,
                    details={
                        "upload_id": str(upload.id),
                        "size": upload.length,
                        "media_type": facts.media_type,
                        "width": facts.width,
                        "height": facts.height,
                        "known_already": known is not None,
                    },
                )
        upload.state, upload.offset, upload.ended_at = "stored", upload.length, now
        if known is None or not known.has_thumbnail:
            self._start_thumbnail(upload.digest)
        return upload

    async def _refuse(
        self, upload: Upload, exc: DomainError, actor: Actor, request_id: str, *, new: bool
    ) -> None:
        """Nothing of a refused file is kept; the upload answers 410 from now on."""
        self._spool_path(upload.id).unlink(missing_ok=True)
        now = self._clock.now()
        with write_intent():
            async with self._sessions() as session, session.begin():
                if new:
                    session.add(upload)
                    await session.flush()
                await session.execute(
                    update(Upload)
                    .where(Upload.id == upload.id)
                    .values(
                        state="refused", refusal=f"{exc.code}: {exc.detail}"[:200], ended_at=now
                    )
                )
                Audit(session, self._clock, actor, request_id).record(
                    AuditAction.FILE_REFUSED,
                    subject_kind="file",
                    subject_id=upload.digest,
                    task_id=upload.task_id,
                    reason=exc.code,
                    details={"upload_id": str(upload.id), "detail": exc.detail[:200]},
                )
        upload.state = "refused"

    async def _recover_if_stored(self, upload: Upload) -> Upload:
        """The spool file is gone because the file entered the store, and a crash came before
        its row said so (or another upload of the same bytes finished first): record it now."""
        if self._spool_path(upload.id).exists():
            return upload
        path = await asyncio.to_thread(self.store.local_path, upload.digest)
        if path is None:
            return upload
        facts = await asyncio.to_thread(images.examine, path, max_pixels=self.limits.max_pixels)
        return await self._record_stored(upload, facts, Actor.system(), "recovery")

    # -- thumbnails ------------------------------------------------------------------------------

    def _start_thumbnail(self, digest: str) -> None:
        task = asyncio.get_running_loop().create_task(self.ensure_thumbnail(digest))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def ensure_thumbnail(self, digest: str) -> bool:
        """Decode the stored image whole and keep its thumbnail; False when it cannot be decoded."""
        key = thumbnail_key(digest)
        error: str | None = None
        if not await asyncio.to_thread(self.store.has, key):
            path = await asyncio.to_thread(self.store.local_path, digest)
            if path is None:
                return False
            if self._thumbnailer is None:
                self._thumbnailer = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="zsjg-thumbnails", initializer=_yield_cpu
                )
            make = functools.partial(images.thumbnail, path, max_pixels=self.limits.max_pixels)
            try:
                small = await asyncio.get_running_loop().run_in_executor(self._thumbnailer, make)
            except images.Undecodable as exc:
                error = str(exc) or "无法解码"
                logger.warning("stored image %s cannot be decoded whole: %s", digest, error)
            else:
                self._spool.mkdir(parents=True, exist_ok=True)
                made = self._spool / f"{digest}.{uuid.uuid4().hex}.thumb"
                await asyncio.to_thread(_write_file, made, small)
                await asyncio.to_thread(self.store.put, key, made)
        with write_intent():
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(StoredFile)
                    .where(StoredFile.digest == digest)
                    .values(has_thumbnail=error is None, decode_error=error)
                )
        return error is None

    async def stop(self) -> None:
        """Let thumbnails being made finish (bounded); the rest are made on demand later."""
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=10)
            for task in late:
                task.cancel()
        if self._thumbnailer is not None:
            self._thumbnailer.shutdown(wait=False, cancel_futures=True)
            self._thumbnailer = None

    # -- termination and expiry --------------------------------------------------------------

    async def terminate(self, principal: Principal, upload_id: uuid.UUID) -> None:
        upload = await self._load(principal, upload_id)
        if upload.state == "stored":
            raise UploadGone("上传已完成，文件已保存，不能再终止")
        with self._locked(upload.id):
            with write_intent():
                async with self._sessions() as session, session.begin():
                    await session.execute(
                        update(Upload)
                        .where(Upload.id == upload.id)
                        .values(state="terminated", ended_at=self._clock.now())
                    )
            self._spool_path(upload.id).unlink(missing_ok=True)

    async def sweep_expired(self, limit: int = SWEEP_BATCH) -> int:
        """End up to ``limit`` open uploads past their expiry and remove their spool files."""
        now = self._clock.now()
        async with self._sessions() as session:
            ids = (
                await session.scalars(
                    select(Upload.id)
                    .where(Upload.state == "open", Upload.expires_at <= now)
                    .limit(limit)
                )
            ).all()
        if not ids:
            return 0
        with contextlib.ExitStack() as held:
            idle = []
            for upload_id in ids:  # one a request is writing now is left for a later sweep
                try:
                    held.enter_context(self._locked(upload_id))
                except (UploadBusy, UploadGone):
                    continue
                idle.append(upload_id)
            if not idle:
                return 0
            with write_intent():
                async with self._sessions() as session, session.begin():
                    await session.execute(
                        update(Upload)
                        .where(Upload.id.in_(idle), Upload.state == "open")
                        .values(state="expired", ended_at=now)
                    )
            for upload_id in idle:
                self._spool_path(upload_id).unlink(missing_ok=True)
        return len(idle)

    # -- the spool -----------------------------------------------------------------------------

    def _spool_path(self, upload_id: uuid.UUID) -> Path:
        return self._spool / f"{upload_id.hex}.part"

    @contextlib.contextmanager
    def _locked(self, upload_id: uuid.UUID) -> Iterator[BinaryIO]:
        """The spool file, open for writing under an exclusive lock (other writers: 423)."""
        try:
            fd = os.open(self._spool_path(upload_id), os.O_RDWR)
        except FileNotFoundError as exc:
            raise UploadGone("上传的暂存文件已不存在，请重新开始上传") from exc
        spool = os.fdopen(fd, "r+b", buffering=1024 * 1024)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UploadBusy("另一个请求正在写入这个上传，请稍后再试") from exc
            yield spool
        finally:
            spool.close()  # closing releases the lock

    # -- files -----------------------------------------------------------------------------------

    async def sent_by(self, principal: Principal, digest: str) -> StoredFile | None:
        """The stored file, when the caller has uploaded these bytes before (for any task).

        A phone asks before it sends a file again (a retry after a lost answer, the same photo
        on a second task); knowing a digest is not having the file, so another user's upload
        does not count: the bytes are sent, and stored once.
        """
        if not _DIGEST.fullmatch(digest):
            return None
        async with self._sessions() as session:
            mine = await session.scalar(
                select(Upload.id)
                .where(
                    Upload.user_id == principal.user_id,
                    Upload.digest == digest,
                    Upload.state == "stored",
                )
                .limit(1)
            )
            return None if mine is None else await session.get(StoredFile, digest)


def _yield_cpu() -> None:
    """Thumbnails are made at the lowest CPU priority: a phone waiting for an answer goes first."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _actor(principal: Principal) -> Actor:
    return Actor(
        role=principal.role.value, user_id=principal.user_id, device_id=principal.device_id
    )


async def _holds_or_held(session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID) -> bool:
    """The user is assigned to the task, or was before a reassignment (late work still uploads:
    the rule the sync engine applies to late pushes)."""
    state = (await task_states(session, [task_id], for_user=user_id)).get(task_id)
    user = str(user_id)
    return state is not None and (user in state.assignees or user in state.past_assignees)


def _size(spool: BinaryIO) -> int:
    return os.fstat(spool.fileno()).st_size


async def _truncate(spool: BinaryIO, size: int) -> None:
    spool.flush()
    spool.truncate(size)
    await asyncio.to_thread(os.fsync, spool.fileno())


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def _write_file(path: Path, data: bytes) -> Path:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return path

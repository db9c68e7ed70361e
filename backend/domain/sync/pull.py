"""The pull: one consistent snapshot, paged by change sequence, scoped to the caller's tasks."""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from backend.clock import Clock
from backend.db.models import (
    CodeTableVersion,
    DeviceSync,
    SyncConflict,
    SyncMeta,
    SyncRecord,
    SyncRejection,
    Task,
    TaskAssignment,
    TaskRevocation,
    TaskStatus,
)
from backend.db.sqlite_driver import reads_in_place
from backend.domain.auth.principal import Principal
from backend.domain.codes.services import current_code_tables
from backend.domain.deadlines.views import deadlines_of, light_for
from backend.domain.tasks.queries import inspectors_of, object_detail, task_items
from backend.domain.tasks.schemas import CodeTableOut
from sync import PullRequest

from .schemas import PulledConflict, PulledRecord, PulledRejection, PulledTask, PullResponse
from .services import check_envelope
from .store import META_ID

# the head of the change sequence, the epoch and the device's place in one statement
_WHERE_WE_ARE = (
    select(SyncMeta.seq, SyncMeta.epoch, DeviceSync.last_seq)
    .select_from(SyncMeta)
    .outerjoin(DeviceSync, DeviceSync.device_id == bindparam("device_id"))
    .where(SyncMeta.id == META_ID)
)


_WITH_NOTE = frozenset({TaskStatus.RETURNED, TaskStatus.REOPENED})
"""Statuses whose lead's reason (退回 or 更正) the phones show."""

_NEWEST_TABLES = select(CodeTableVersion.name, func.max(CodeTableVersion.version)).group_by(
    CodeTableVersion.name
)


async def nothing_new(
    engine: AsyncEngine, principal: Principal, request: PullRequest
) -> PullResponse | None:
    """The answer to a phone at the head that holds every code table, from one short read.

    Most pulls are a phone polling with nothing new. This answers them on a plain connection
    (no session, no ORM) and returns ``None`` for everything else, which ``PullService``
    answers in one snapshot.
    """
    if request.until is not None:
        return None
    with reads_in_place():
        async with engine.connect() as connection:
            where = (
                await connection.execute(_WHERE_WE_ARE, {"device_id": principal.device_id})
            ).one()
            if request.cursor != int(where.seq):
                return None
            if request.code_table_versions is not None:
                held = request.code_table_versions
                newest = await connection.execute(_NEWEST_TABLES)
                if any(held.get(name) != version for name, version in newest):
                    return None
    head = int(where.seq)
    return PullResponse(
        server_epoch=str(where.epoch),
        reset=False,
        cursor=head,
        next_cursor=head,
        until=head,
        has_more=False,
        last_seq=int(where.last_seq or 0),
        tasks=[],
        records=[],
        conflicts=[],
        rejections=[],
        revocations=[],
        code_tables=None,
    )


class PullService:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def pull(self, principal: Principal, request: PullRequest) -> PullResponse:
        check_envelope(request.protocol_version, request.client_id, principal)
        session = self._session
        if session.bind.dialect.name == "postgresql":
            # one snapshot for every statement of the pull (SQLite's read transaction is one already)
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        where = (await session.execute(_WHERE_WE_ARE, {"device_id": principal.device_id})).one()
        head, epoch, last_seq = int(where.seq), str(where.epoch), int(where.last_seq or 0)
        cursor = request.cursor
        reset = cursor > head or (
            request.until is not None and (request.until > head or request.until < cursor)
        )
        if reset:
            cursor = 0
        until = head if reset or request.until is None else request.until
        first_page = request.until is None or reset
        if cursor == until and not reset:  # nothing new: the common answer to a phone that polls
            return PullResponse(
                server_epoch=epoch,
                reset=False,
                cursor=cursor,
                next_cursor=cursor,
                until=until,
                has_more=False,
                last_seq=last_seq,
                tasks=[],
                records=[],
                conflicts=[],
                rejections=[],
                revocations=[],
                code_tables=(
                    await self._code_tables(request, True)
                    if request.code_table_versions is not None
                    else None
                ),
            )

        assignments = (
            await session.execute(
                select(TaskAssignment.task_id, TaskAssignment.assigned_version).where(
                    TaskAssignment.user_id == principal.user_id
                )
            )
        ).all()
        visible = [task_id for task_id, _ in assignments]
        # tasks given to this user after the cursor: sent whole on the first page, whatever their versions
        arrived = [
            task_id for task_id, version in assignments if cursor > 0 and cursor < version <= until
        ]
        window = and_(SyncRecord.version > cursor, SyncRecord.version <= until)
        limit = request.limit

        records = (
            await session.scalars(
                select(SyncRecord)
                .where(SyncRecord.task_id.in_(visible), window)
                .order_by(SyncRecord.version)
                .limit(limit + 1)
            )
        ).all()
        conflicts = (
            await session.scalars(
                select(SyncConflict)
                .where(
                    SyncConflict.task_id.in_(visible),
                    SyncConflict.version > cursor,
                    SyncConflict.version <= until,
                )
                .order_by(SyncConflict.version)
                .limit(limit + 1)
            )
        ).all()
        tasks = (
            await session.scalars(
                select(Task)
                .where(Task.id.in_(visible), Task.sync_version > cursor, Task.sync_version <= until)
                .order_by(Task.sync_version)
                .limit(limit + 1)
                .options(selectinload(Task.plan), selectinload(Task.object))
            )
        ).all()
        rejections = (
            await session.scalars(
                select(SyncRejection)
                .where(
                    SyncRejection.device_id == principal.device_id,
                    SyncRejection.version > cursor,
                    SyncRejection.version <= until,
                )
                .order_by(SyncRejection.version)
                .limit(limit + 1)
            )
        ).all()
        revocations = (
            await session.scalars(
                select(TaskRevocation)
                .where(
                    TaskRevocation.user_id == principal.user_id,
                    TaskRevocation.version > cursor,
                    TaskRevocation.version <= until,
                )
                .order_by(TaskRevocation.version)
                .limit(limit + 1)
            )
        ).all()

        merged: list[tuple[int, str, Any]] = list(
            heapq.merge(
                ((r.version, "record", r) for r in records),
                ((c.version, "conflict", c) for c in conflicts),
                ((t.sync_version, "task", t) for t in tasks),
                ((r.version, "rejection", r) for r in rejections),
                ((r.version, "revocation", r) for r in revocations),
            )
        )
        page = merged[:limit]
        has_more = len(merged) > limit
        next_cursor = page[-1][0] if has_more else until

        page_records = [item for _, kind, item in page if kind == "record"]
        arrived_conflicts: Sequence[SyncConflict] = []
        page_tasks = [item for _, kind, item in page if kind == "task"]
        if first_page and arrived:
            page_records += (
                await session.scalars(
                    select(SyncRecord).where(
                        SyncRecord.task_id.in_(arrived), SyncRecord.version <= cursor
                    )
                )
            ).all()
            arrived_conflicts = (
                await session.scalars(
                    select(SyncConflict).where(
                        SyncConflict.task_id.in_(arrived), SyncConflict.version <= cursor
                    )
                )
            ).all()
            known = {t.id for t in page_tasks}
            page_tasks += (
                await session.scalars(
                    select(Task)
                    .where(Task.id.in_([a for a in arrived if a not in known]))
                    .options(selectinload(Task.plan), selectinload(Task.object))
                )
            ).all()
        visible_now = set(visible)
        # a task comes whole (items and checklists) when it is new to the device since the snapshot began
        origin = (
            cursor
            if request.until is None or reset
            else (request.origin if request.origin is not None else cursor)
        )
        assigned_since = {task_id for task_id, version in assignments if version > origin}
        whole = {t.id for t in page_tasks if origin == 0 or t.id in assigned_since}
        return PullResponse(
            server_epoch=epoch,
            reset=reset,
            cursor=cursor,
            next_cursor=next_cursor,
            until=until,
            has_more=has_more,
            last_seq=last_seq,
            tasks=await self._tasks(page_tasks, whole),
            records=[_record(r) for r in page_records],
            conflicts=[_conflict(c) for _, kind, c in page if kind == "conflict"]
            + [_conflict(c) for c in arrived_conflicts],
            rejections=[
                _rejection(r, request.client_id) for _, kind, r in page if kind == "rejection"
            ],
            revocations=[
                r.task_id
                for _, kind, r in page
                if kind == "revocation" and r.task_id not in visible_now
            ],
            code_tables=await self._code_tables(request, first_page),
        )

    async def _code_tables(
        self, request: PullRequest, first_page: bool
    ) -> list[CodeTableOut] | None:
        """Every code table the phone does not hold in its current version (on the first page).

        Code tables change rarely and outside the change sequence, so a phone names the versions it
        holds; one that names none gets them all on its first pull from cursor 0.
        """
        if not first_page or (request.code_table_versions is None and request.cursor != 0):
            return None
        held = request.code_table_versions or {}
        changed = [
            t for t in await current_code_tables(self._session) if held.get(t.name) != t.version
        ]
        return changed or None

    async def _tasks(self, tasks: Sequence[Task], whole: set[uuid.UUID]) -> list[PulledTask]:
        now = self._clock.now()
        ids = [t.id for t in tasks]
        inspectors = await inspectors_of(self._session, ids)
        items = await task_items(self._session, [i for i in ids if i in whole])
        return [
            PulledTask(
                id=t.id,
                code=t.code,
                name=t.name,
                status=t.status.value,
                version=t.sync_version,
                issued_on=t.issued_on,
                due_on=t.due_on,
                deadlines=deadlines_of(t),
                light=light_for(t, t.plan, now),
                object=object_detail(t.object),
                inspectors=inspectors.get(t.id, []),
                items=items.get(t.id, []) if t.id in whole else None,
                review_note=t.review_note if t.status in _WITH_NOTE else None,
            )
            for t in tasks
        ]


def _record(row: SyncRecord) -> PulledRecord:
    return PulledRecord(
        entity=row.entity,
        id=row.id,
        task_id=row.task_id,
        version=row.version,
        deleted=row.deleted,
        fields=row.fields,
    )


def _conflict(row: SyncConflict) -> PulledConflict:
    return PulledConflict(
        id=row.id,
        task_id=row.task_id,
        entity=row.entity,
        entity_id=row.entity_id,
        field=row.field,
        winner=row.winner,
        loser=row.loser,
        status=row.status,
        resolved_by=row.resolved_by,
        version=row.version,
    )


def _rejection(row: SyncRejection, client_id: str) -> PulledRejection:
    return PulledRejection(
        mutation_id=row.mutation_id,
        client_id=client_id,
        seq=row.seq,
        payload=row.payload,
        reason_code=row.reason_code,
        reason=row.reason,
        at=row.at,
        version=row.version,
    )


__all__ = ["PullService"]

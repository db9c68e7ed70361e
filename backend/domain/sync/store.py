"""The engine's ``Store`` over the database: load what a push touches, run the pure engine, write back.

A push takes the change counter's lock first (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
the transaction began ``IMMEDIATE``), so writers to synced data are serialised, change
sequences are assigned in commit order, and a pull's ``until`` never passes a write that
commits later.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import (
    AssignmentHistoryEntry,
    DeviceSync,
    InspectionObject,
    MutationLogEntry,
    SyncConflict,
    SyncMeta,
    SyncRecord,
    Task,
    TaskAssignment,
)
from sync import Conflict, Place, Record, Register, ReplicaStore, Side, TaskState, peek, place

META_ID = 1


async def lock_counter(session: AsyncSession) -> SyncMeta:
    """Take the change counter (and with it the right to write synced data) until commit."""
    meta = await session.scalar(select(SyncMeta).where(SyncMeta.id == META_ID).with_for_update())
    if meta is None:
        raise RuntimeError("the sync counter row is missing: is the database migrated?")
    return meta


def table_of(model: type[Any]) -> Table:
    """A mapped class's table, for Core statements on the hot paths."""
    return cast(Table, model.__table__)


# The push path's statements name the tables' columns, not the mapped classes': a Core
# statement skips the ORM's compile and result layers
_META = table_of(SyncMeta).c
_COUNTER = select(_META.seq, _META.epoch).where(_META.id == META_ID).with_for_update()
_STORE_COUNTER = (
    update(table_of(SyncMeta))
    .where(table_of(SyncMeta).c.id == META_ID)
    .values(seq=bindparam("seq"))
)


async def take_counter(session: AsyncSession) -> tuple[int, str]:
    """:func:`lock_counter` for the push: the change sequence and the epoch, as plain values."""
    row = (await session.execute(_COUNTER)).first()
    if row is None:
        raise RuntimeError("the sync counter row is missing: is the database migrated?")
    return int(row.seq), str(row.epoch)


async def store_counter(session: AsyncSession, seq: int) -> None:
    await session.execute(_STORE_COUNTER, {"seq": seq})


def register_from_json(data: dict[str, Any]) -> Register:
    return Register(**data)


def side_to_json(side: Side | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        "value": side.value,
        "hlc": side.hlc,
        "user_id": side.user_id,
        "client_id": side.client_id,
        "mutation_id": side.mutation_id,
    }


def side_from_json(data: dict[str, Any] | None) -> Side | None:
    return None if data is None else Side(**data)


def record_from_row(row: Any) -> Record:
    return Record(
        entity=row.entity,
        id=row.id,
        task_id=row.task_id,
        fields={k: register_from_json(v) for k, v in row.fields.items()},
        version=row.version,
        deleted=row.deleted,
        created_by=row.created_by,
        deleted_by=register_from_json(row.deleted_by) if row.deleted_by else None,
    )


def conflict_from_row(row: SyncConflict) -> Conflict:
    winner, loser = side_from_json(row.winner), side_from_json(row.loser)
    assert winner is not None and loser is not None
    return Conflict(
        id=row.id,
        task_id=row.task_id,
        entity=row.entity,
        entity_id=row.entity_id,
        field=row.field,
        winner=winner,
        loser=loser,
        status=row.status,
        resolved_by=side_from_json(row.resolved_by),
        version=row.version,
    )


_TASK, _OBJECT, _ASSIGNEE = (table_of(m).c for m in (Task, InspectionObject, TaskAssignment))
_TASKS_WITH_ASSIGNEES = (
    select(_TASK.id, _TASK.status, _TASK.sync_version, _OBJECT.uscc, _ASSIGNEE.user_id)
    .join_from(table_of(Task), table_of(InspectionObject), _OBJECT.id == _TASK.object_id)
    .outerjoin(table_of(TaskAssignment), _ASSIGNEE.task_id == _TASK.id)
    .where(_TASK.id.in_(bindparam("task_ids", expanding=True)))
)
_HISTORY = table_of(AssignmentHistoryEntry).c
_PAST_ASSIGNEES = select(
    _HISTORY.task_id, _HISTORY.inspector_ids, _HISTORY.previous_inspector_ids
).where(_HISTORY.task_id.in_(bindparam("task_ids", expanding=True)))


async def task_states(
    session: AsyncSession, task_ids: Iterable[uuid.UUID], *, for_user: uuid.UUID
) -> dict[uuid.UUID, TaskState]:
    """The tasks a push names, with their current assignees, in one statement.

    A task's past assignees are read only for tasks ``for_user`` no longer holds: the engine
    asks about them only for a pusher who is not a current assignee (a late push).
    """
    ids = list(set(task_ids))
    if not ids:
        return {}
    found: dict[uuid.UUID, TaskState] = {}
    for task_id, status, version, uscc, user_id in await session.execute(
        _TASKS_WITH_ASSIGNEES, {"task_ids": ids}
    ):
        state = found.get(task_id)
        if state is None:
            state = found[task_id] = TaskState(task_id, status.value, set(), set(), uscc, version)
        if user_id is not None:
            state.assignees.add(str(user_id))
    user = str(for_user)
    not_held = [t for t, state in found.items() if user not in state.assignees]
    if not_held:
        for task_id, inspectors, previous in await session.execute(
            _PAST_ASSIGNEES, {"task_ids": not_held}
        ):
            found[task_id].past_assignees.update(inspectors, previous)
        for state in found.values():
            state.past_assignees -= state.assignees
    return found


@dataclass
class Workspace(ReplicaStore):
    """A ``ReplicaStore`` seeded from the database, which remembers what the engine changed."""

    dirty_records: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    dirty_tasks: set[uuid.UUID] = field(default_factory=set)
    dirty_conflicts: set[uuid.UUID] = field(default_factory=set)
    new_conflicts: set[uuid.UUID] = field(default_factory=set)
    stored_records: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    """The records that exist in the database (an update, not an insert, when dirty)."""
    loaded_conflicts: dict[uuid.UUID, SyncConflict] = field(default_factory=dict)

    def save_task(self, task: TaskState) -> None:
        super().save_task(task)
        self.dirty_tasks.add(task.id)

    def save_record(self, record: Record) -> None:
        super().save_record(record)
        self.dirty_records.add((record.entity, record.id))

    def save_conflict(self, conflict: Conflict) -> None:
        if conflict.id not in self.conflicts:
            self.new_conflicts.add(conflict.id)
        super().save_conflict(conflict)
        self.dirty_conflicts.add(conflict.id)

    def new_id(self) -> uuid.UUID:
        return uuid.uuid4()


class Prescan(msgspec.Struct):
    """What a push's mutations name, read leniently, to load them in a few queries.

    Mutations at or below the device's ``last_seq`` are left out: the engine skips them
    without looking anything up, so a replayed push costs little more than an empty one.
    """

    ids: set[str]
    tasks: set[uuid.UUID]
    records: set[tuple[str, uuid.UUID]]
    conflicts: set[uuid.UUID]
    task_of: dict[str, uuid.UUID]
    """Mutation id → the task it names (for the mutation log and the audit trail)."""
    places: list[Place | None]
    """``sync.place`` of each mutation, for the engine."""


def _uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class _Names(msgspec.Struct):
    """The fields a push's mutations name, for the common case: decoded in C, UUIDs parsed."""

    id: Any = None
    seq: Any = None
    task_id: uuid.UUID | None = None
    entity: str | None = None
    entity_id: uuid.UUID | None = None
    payload: Any = None


_NAMES = msgspec.json.Decoder(_Names)


def prescan(raws: Iterable[bytes], *, after: int) -> Prescan:
    found = Prescan(set(), set(), set(), set(), {}, [])
    for raw in raws:
        try:
            names: _Names | None = _NAMES.decode(raw)
        except msgspec.DecodeError:  # not an object, or a field of an odd type: read leniently
            names = None
        known = Place(id=names.id, seq=names.seq) if names is not None else place(raw)
        found.places.append(known)
        position = known.position if known is not None else None
        if position is not None and position <= after:
            continue  # already in the order: the engine answers "skipped" from last_seq alone
        if names is not None:
            mutation_id = known.mutation_id if known is not None else None
            task, entity, rid, payload = names.task_id, names.entity, names.entity_id, names.payload
        else:
            mutation_id, seq, data = peek(raw, placed=known)
            if seq is not None and seq <= after:
                continue
            task, entity = _uuid(data.get("task_id")), data.get("entity")
            rid, payload = _uuid(data.get("entity_id")), data.get("payload")
        if mutation_id is not None:
            found.ids.add(mutation_id)
        if task is not None:
            found.tasks.add(task)
            if mutation_id is not None:
                found.task_of[mutation_id] = task
        if isinstance(entity, str) and "\x00" not in entity and rid is not None:
            found.records.add((entity[:32], rid))
        if isinstance(payload, dict) and (cid := _uuid(payload.get("conflict_id"))) is not None:
            found.conflicts.add(cid)
    return found


_DEVICE, _LOG, _RECORD = (table_of(m).c for m in (DeviceSync, MutationLogEntry, SyncRecord))
_DEVICE_LAST_SEQ = select(_DEVICE.last_seq).where(_DEVICE.device_id == bindparam("device_id"))
_OUTCOMES = select(_LOG.mutation_id, _LOG.outcome).where(
    _LOG.device_id == bindparam("device_id"),
    _LOG.mutation_id.in_(bindparam("ids", expanding=True)),
)
_RECORDS = select(
    _RECORD.entity,
    _RECORD.id,
    _RECORD.task_id,
    _RECORD.fields,
    _RECORD.version,
    _RECORD.deleted,
    _RECORD.created_by,
    _RECORD.deleted_by,
).where(
    # two IN lists over the primary key (entity, id): both databases seek the index with them,
    # where a row-value IN made SQLite scan the whole table
    _RECORD.entity.in_(bindparam("entities", expanding=True)),
    _RECORD.id.in_(bindparam("ids", expanding=True)),
)


_DEVICE_PLACES = select(_DEVICE.device_id, _DEVICE.last_seq).where(
    _DEVICE.device_id.in_(bindparam("device_ids", expanding=True))
)
_DEVICES = table_of(DeviceSync)
_DEVICE_STATE: dict[str, Any] = {
    name: bindparam(name)
    for name in (
        "last_seq",
        "pending_mutations",
        "pending_files",
        "oldest_pending_at",
        "last_push_at",
        "app_version",
    )
}
_INSERT_DEVICE = insert(_DEVICES).values(device_id=bindparam("k_device_id"), **_DEVICE_STATE)
_UPDATE_DEVICE = (
    update(_DEVICES).where(_DEVICES.c.device_id == bindparam("k_device_id")).values(**_DEVICE_STATE)
)


@dataclass
class Turn:
    """What pushes share while they hold the change counter: written back once, at the end."""

    seq: int
    epoch: str
    start: int
    stored: dict[uuid.UUID, bool]
    """Device → whether its state row exists (the devices named when the turn was taken)."""
    places: dict[uuid.UUID, int]
    """Device → its ``last_seq`` as the pushes so far have left it."""
    states: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    """Device → its state to write at the end of the turn (the last push's)."""


async def take_turn(session: AsyncSession, device_ids: Iterable[uuid.UUID]) -> Turn:
    """Take the counter's lock; read the counter and the devices' places (one statement each)."""
    seq, epoch = await take_counter(session)
    ids = sorted(set(device_ids))
    places = {
        device_id: int(last_seq)
        for device_id, last_seq in await session.execute(_DEVICE_PLACES, {"device_ids": ids})
    }
    return Turn(seq, epoch, seq, {d: d in places for d in ids}, places)


async def end_turn(session: AsyncSession, turn: Turn) -> None:
    """Store the counter and the devices' states the pushes of the turn left."""
    if turn.seq != turn.start:
        await store_counter(session, turn.seq)
    new = [s for d, s in turn.states.items() if not turn.stored.get(d, False)]
    old = [s for d, s in turn.states.items() if turn.stored.get(d, False)]
    if new:
        await session.execute(_INSERT_DEVICE, new)
    if old:
        await session.execute(_UPDATE_DEVICE, old)


async def device_last_seq(session: AsyncSession, device_id: uuid.UUID) -> int | None:
    """The device's place in the order; ``None`` before its first push."""
    last_seq: int | None = await session.scalar(_DEVICE_LAST_SEQ, {"device_id": device_id})
    return last_seq


async def load_workspace(
    session: AsyncSession,
    seq: int,
    device_id: uuid.UUID,
    user_id: uuid.UUID,
    last_seq: int,
    scan: Prescan,
) -> Workspace:
    ws = Workspace(seq=seq)
    ws.last_seqs[str(device_id)] = last_seq
    if scan.ids:
        for mutation_id, outcome in await session.execute(
            _OUTCOMES, {"device_id": device_id, "ids": sorted(scan.ids)}
        ):
            ws.outcomes[(str(device_id), mutation_id)] = outcome
    ws.tasks.update(await task_states(session, scan.tasks, for_user=user_id))
    if scan.records:
        entities = sorted({entity for entity, _ in scan.records})
        ids = sorted({record_id for _, record_id in scan.records})
        for start in range(0, len(ids), 400):
            rows = await session.execute(
                _RECORDS, {"entities": entities, "ids": ids[start : start + 400]}
            )
            for row in rows:
                key = (row.entity, row.id)
                if key in scan.records:
                    ws.stored_records.add(key)
                    ws.records[key] = record_from_row(row)
    if scan.conflicts:
        conflicts = select(SyncConflict).where(SyncConflict.id.in_(scan.conflicts))
        for conflict in (await session.scalars(conflicts)).all():
            ws.loaded_conflicts[conflict.id] = conflict
            ws.conflicts[conflict.id] = conflict_from_row(conflict)
    return ws

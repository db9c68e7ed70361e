"""Push and pull over the database, with the pure engine in between (``docs/sync-protocol.md``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.db.ids import random_uuids
from backend.db.models import (
    DeviceSync,
    MutationLogEntry,
    SyncAmendment,
    SyncConflict,
    SyncRecord,
    SyncRejection,
    Task,
    TaskStatus,
)
from backend.domain.audit.actions import AuditAction
from backend.domain.audit.service import Audit
from backend.domain.auth.principal import Principal
from backend.domain.deadlines.services import DeadlineService
from backend.errors import InvalidInput
from sync import (
    SUPPORTED_PROTOCOLS,
    Device,
    Engine,
    HybridClock,
    MutationResult,
    PushRequest,
    PushResponse,
    server_record_id,
)

from .store import (
    Turn,
    Workspace,
    device_last_seq,
    end_turn,
    load_workspace,
    lock_counter,
    prescan,
    side_to_json,
    table_of,
    take_turn,
)


class UnsupportedProtocol(InvalidInput):
    code = "unsupported-protocol"
    title = "This protocol version is not supported; update the app"


def check_envelope(protocol_version: int, client_id: str, principal: Principal) -> None:
    if protocol_version not in SUPPORTED_PROTOCOLS:
        raise UnsupportedProtocol(
            f"不支持的同步协议版本 {protocol_version}，请更新应用",
            supported=sorted(SUPPORTED_PROTOCOLS),
        )
    if client_id != str(principal.device_id):
        raise InvalidInput("client_id 必须是本设备的标识（登录时登记的设备）", client_id=client_id)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


async def create_server_records(
    session: AsyncSession, task: Task, point_ids: Sequence[uuid.UUID]
) -> None:
    """A newly issued task's synced records: one ``check_item`` per checklist point, and its ``result``."""
    meta = await lock_counter(session)
    for point_id in point_ids:
        meta.seq += 1
        session.add(
            SyncRecord(
                entity="check_item",
                id=server_record_id(task.id, "check_item", str(point_id)),
                task_id=task.id,
                fields={},
                version=meta.seq,
                deleted=False,
            )
        )
    meta.seq += 1
    session.add(
        SyncRecord(
            entity="result",
            id=server_record_id(task.id, "result"),
            task_id=task.id,
            fields={},
            version=meta.seq,
            deleted=False,
        )
    )
    meta.seq += 1
    task.sync_version = meta.seq


_RECORDS = table_of(SyncRecord)
_INSERT_RECORDS = insert(_RECORDS)
_UPDATE_RECORDS = (
    update(_RECORDS)
    .where(_RECORDS.c.entity == bindparam("k_entity"), _RECORDS.c.id == bindparam("k_id"))
    .values(
        fields=bindparam("fields"),
        version=bindparam("version"),
        deleted=bindparam("deleted"),
        deleted_by=bindparam("deleted_by"),
    )
)
_INSERT_LOG = insert(table_of(MutationLogEntry))


class SyncService:
    def __init__(self, session: AsyncSession, clock: Clock, audit: Audit) -> None:
        self._session = session
        self._clock = clock
        self._audit = audit

    async def push(self, principal: Principal, request: PushRequest) -> PushResponse:
        """Apply one push in the session's transaction, taking and advancing the change counter."""
        turn = await take_turn(self._session, [principal.device_id])
        response = await self.apply(principal, request, turn)
        await end_turn(self._session, turn)
        return response

    async def apply(self, principal: Principal, request: PushRequest, turn: Turn) -> PushResponse:
        """Apply one push in ``turn`` (the counter's lock held); ``end_turn`` writes what it leaves.

        A group of pushes shares one turn: the counter and the devices' states are read and
        written once for the group.
        """
        check_envelope(request.protocol_version, request.client_id, principal)
        session = self._session
        if session.new or session.dirty:  # an earlier push of the group: its last task changes
            await session.flush()  # (the reads below are Core statements, which do not autoflush)
        raws = [bytes(raw) for raw in request.mutations]
        if principal.device_id not in turn.stored:  # not named when the turn was taken
            stored = await device_last_seq(session, principal.device_id)
            turn.stored[principal.device_id] = stored is not None
            if stored is not None:
                turn.places[principal.device_id] = stored
        last_seq = turn.places.get(principal.device_id, 0)
        scan = prescan(raws, after=last_seq)
        ws = await load_workspace(
            session, turn.seq, principal.device_id, principal.user_id, last_seq, scan
        )
        wall = lambda: int(self._clock.now().timestamp() * 1000)  # noqa: E731
        outcome = Engine(ws, HybridClock(wall)).push(
            Device(request.client_id, str(principal.user_id)), raws, scan.places
        )
        now = self._clock.now()
        await self._write_back(ws, principal, scan.task_of, now)
        turn.seq = ws.seq
        turn.places[principal.device_id] = outcome.last_seq
        turn.states[principal.device_id] = {
            "k_device_id": principal.device_id,
            "last_seq": outcome.last_seq,
            "pending_mutations": request.pending_mutations,
            "pending_files": request.pending_files,
            "oldest_pending_at": request.oldest_pending_at,
            "last_push_at": now,
            "app_version": request.app_version,
        }
        self._audit_results(outcome.results, scan.task_of)
        return PushResponse(
            server_epoch=turn.epoch,
            last_seq=outcome.last_seq,
            expected_seq=outcome.expected_seq,
            results=outcome.results,
        )

    async def _write_back(
        self,
        ws: Workspace,
        principal: Principal,
        task_of: dict[str, uuid.UUID],
        now: datetime,
    ) -> None:
        session = self._session
        changed_results: set[uuid.UUID] = set()
        check_ins: dict[uuid.UUID, datetime] = {}
        new_records: list[dict[str, Any]] = []
        changed_records: list[dict[str, Any]] = []
        for key in ws.dirty_records:
            record = ws.records[key]
            # the registers go as they are: the JSON columns' encoder (msgspec) writes a
            # dataclass as an object of its fields, which ``register_from_json`` reads back
            fields = dict(record.fields)
            deleted_by = record.deleted_by
            if key in ws.stored_records:
                changed_records.append(
                    {
                        "k_entity": record.entity,
                        "k_id": record.id,
                        "fields": fields,
                        "version": record.version,
                        "deleted": record.deleted,
                        "deleted_by": deleted_by,
                    }
                )
            else:
                new_records.append(
                    {
                        "entity": record.entity,
                        "id": record.id,
                        "task_id": record.task_id,
                        "fields": fields,
                        "version": record.version,
                        "deleted": record.deleted,
                        "created_by": record.created_by,
                        "deleted_by": deleted_by,
                    }
                )
            if record.entity == "result":
                changed_results.add(record.task_id)
            if record.entity == "check_in" and not record.deleted:
                at = _instant(record.value("at"))
                if at is not None:
                    check_ins[record.task_id] = min(at, check_ins.get(record.task_id, at))
        # Core statements, each one executemany: a push of 50 new records is one statement
        if new_records:
            await session.execute(_INSERT_RECORDS, new_records)
        if changed_records:
            await session.execute(_UPDATE_RECORDS, changed_records)
        for conflict_id in ws.dirty_conflicts:
            c = ws.conflicts[conflict_id]
            loaded = ws.loaded_conflicts.get(conflict_id)
            if loaded is None:
                session.add(
                    SyncConflict(
                        id=c.id,
                        task_id=c.task_id,
                        entity=c.entity,
                        entity_id=c.entity_id,
                        field=c.field,
                        winner=side_to_json(c.winner),
                        loser=side_to_json(c.loser),
                        status=c.status,
                        resolved_by=side_to_json(c.resolved_by),
                        version=c.version,
                        created_at=now,
                    )
                )
            else:
                loaded.status, loaded.resolved_by, loaded.version = (
                    c.status,
                    side_to_json(c.resolved_by),
                    c.version,
                )
        for rejection in ws.rejections:
            session.add(
                SyncRejection(
                    id=uuid.uuid4(),
                    mutation_id=rejection.mutation_id,
                    device_id=principal.device_id,
                    user_id=principal.user_id,
                    task_id=task_of.get(rejection.mutation_id or ""),
                    seq=rejection.seq,
                    payload=rejection.payload,
                    reason_code=rejection.reason_code,
                    reason=rejection.reason,
                    at=now,
                    version=ws.next_version(),
                )
            )
        for amendment in ws.amendments:
            session.add(
                SyncAmendment(
                    id=uuid.uuid4(),
                    mutation_id=amendment.mutation_id,
                    device_id=principal.device_id,
                    user_id=principal.user_id,
                    task_id=amendment.task_id,
                    task_status=amendment.task_status,
                    payload=amendment.payload,
                    at=now,
                )
            )
        if ws.mutation_log:
            ids = random_uuids(len(ws.mutation_log))
            await session.execute(
                _INSERT_LOG,
                [
                    {
                        "id": row_id,
                        "mutation_id": entry.mutation_id,
                        "device_id": principal.device_id,
                        "user_id": principal.user_id,
                        "task_id": task_of.get(entry.mutation_id or ""),
                        "seq": entry.seq,
                        "outcome": entry.outcome,
                        "flags": list(entry.flags),
                        "hlc": entry.hlc,
                        "at": now,
                    }
                    for row_id, entry in zip(ids, ws.mutation_log, strict=True)
                ],
            )
        touched = set(ws.dirty_tasks) | changed_results | set(check_ins)
        if touched:
            tasks = {
                t.id: t
                for t in (await session.scalars(select(Task).where(Task.id.in_(touched)))).all()
            }
            for task_id in ws.dirty_tasks:
                state = ws.tasks[task_id]
                before = tasks[task_id].status.value
                tasks[task_id].status = TaskStatus(state.status)
                self._audit.record(
                    AuditAction.TASK_TRANSITIONED,
                    subject_kind="task",
                    subject_id=task_id,
                    task_id=task_id,
                    before={"status": before},
                    after={"status": state.status},
                    details={"from": before, "to": state.status, "via": "sync"},
                )
            for task_id in changed_results:
                result = ws.records[("result", server_record_id(task_id, "result"))]
                tasks[task_id].checked_at = _instant(result.value("checked_at"))
                entered = _instant(result.value("entered_at"))
                if entered is not None and tasks[task_id].results_entered_at is None:
                    tasks[task_id].results_received_at = now
                tasks[task_id].results_entered_at = entered
            for task_id, at in check_ins.items():
                current = tasks[task_id].checked_in_at
                tasks[task_id].checked_in_at = at if current is None else min(current, at)
            await session.flush()
            await DeadlineService(session, self._audit).recompute(list(touched), announce=False)
            for task in tasks.values():
                task.sync_version = ws.next_version()
                task.updated_at = now
        for conflict_id in ws.new_conflicts:
            c = ws.conflicts[conflict_id]
            self._audit.record(
                AuditAction.CONFLICT_RECORDED,
                subject_kind=c.entity,
                subject_id=c.entity_id,
                task_id=c.task_id,
                details={
                    "conflict_id": str(c.id),
                    "field": c.field,
                    "winner": c.winner.mutation_id,
                    "loser": c.loser.mutation_id,
                },
            )
        for conflict_id in ws.dirty_conflicts - ws.new_conflicts:
            c = ws.conflicts[conflict_id]
            if c.status == "resolved":
                self._audit.record(
                    AuditAction.CONFLICT_RESOLVED,
                    subject_kind=c.entity,
                    subject_id=c.entity_id,
                    task_id=c.task_id,
                    details={"conflict_id": str(c.id), "field": c.field},
                )

    def _audit_results(self, results: list[MutationResult], task_of: dict[str, uuid.UUID]) -> None:
        """Rejected, late and kept mutations get an event each; applied ones one event per task and push."""
        applied: dict[uuid.UUID | None, list[str]] = {}
        for r in results:
            if r.outcome in ("duplicate", "skipped"):
                continue
            task_id = task_of.get(r.mutation_id or "")
            if r.outcome in ("applied", "conflict") and "late" not in r.flags:
                applied.setdefault(task_id, []).append(r.mutation_id or "")
                continue
            action = (
                AuditAction.MUTATION_REJECTED
                if r.outcome == "rejected"
                else AuditAction.MUTATION_FLAGGED_LATE
            )
            details: dict[str, Any] = {
                "mutation_id": r.mutation_id,
                "seq": r.seq,
                "outcome": r.outcome,
                "flags": list(r.flags),
            }
            if r.reason_code:
                details["reason_code"] = r.reason_code
            self._audit.record(
                action,
                subject_kind="mutation",
                subject_id=r.mutation_id or "unreadable",
                task_id=task_id,
                reason=r.reason,
                details=details,
            )
        for task_id, mutation_ids in applied.items():
            self._audit.record(
                AuditAction.MUTATION_APPLIED,
                subject_kind="task" if task_id else "mutation",
                subject_id=task_id or mutation_ids[0],
                task_id=task_id,
                details={"count": len(mutation_ids), "mutation_ids": mutation_ids},
            )


__all__ = ["DeviceSync", "SyncService", "UnsupportedProtocol", "create_server_records"]

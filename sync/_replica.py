"""An in-memory replica of the server: the engine over dictionaries, plus pull and the server's own moves.

Used by the shared vectors and the property tests; the backend runs the same engine over the
database.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from ._engine import Device, Engine, PushOutcome
from ._hlc import HybridClock
from ._signing import content_hash, is_stale
from ._state import Amendment, Conflict, LogEntry, Record, Rejection, TaskState

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:zsjg:sync")


def server_record_id(task_id: uuid.UUID, entity: str, key: str = "") -> uuid.UUID:
    """The id of a record the server makes for a task (a ``check_item`` per checklist point, the ``result``)."""
    return uuid.uuid5(NAMESPACE, f"{task_id}/{entity}/{key}")


@dataclass
class Revocation:
    task_id: uuid.UUID
    user_id: str
    version: int


@dataclass
class Pulled:
    records: list[Record]
    conflicts: list[Conflict]
    rejections: list[Rejection]
    revocations: list[uuid.UUID]
    tasks: list[TaskState]
    last_seq: int
    cursor: int


@dataclass
class ReplicaStore:
    tasks: dict[uuid.UUID, TaskState] = field(default_factory=dict)
    records: dict[tuple[str, uuid.UUID], Record] = field(default_factory=dict)
    conflicts: dict[uuid.UUID, Conflict] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    amendments: list[Amendment] = field(default_factory=list)
    mutation_log: list[LogEntry] = field(default_factory=list)
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)
    """(client id, mutation id) → what became of it: ids are de-duplicated per device."""
    last_seqs: dict[str, int] = field(default_factory=dict)
    revocations: list[Revocation] = field(default_factory=list)
    assigned_at: dict[tuple[uuid.UUID, str], int] = field(default_factory=dict)
    """(task, user) → the change sequence when the user got the task."""
    seq: int = 0
    ids: int = 0

    def task(self, task_id: uuid.UUID) -> TaskState | None:
        return self.tasks.get(task_id)

    def save_task(self, task: TaskState) -> None:
        self.tasks[task.id] = task

    def record(self, entity: str, record_id: uuid.UUID) -> Record | None:
        return self.records.get((entity, record_id))

    def save_record(self, record: Record) -> None:
        self.records[(record.entity, record.id)] = record

    def records_of_task(self, task_id: uuid.UUID) -> list[Record]:
        return [r for r in self.records.values() if r.task_id == task_id]

    def conflict(self, conflict_id: uuid.UUID) -> Conflict | None:
        return self.conflicts.get(conflict_id)

    def save_conflict(self, conflict: Conflict) -> None:
        self.conflicts[conflict.id] = conflict

    def add_rejection(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def add_amendment(self, amendment: Amendment) -> None:
        self.amendments.append(amendment)

    def outcome_of(self, client_id: str, mutation_id: str) -> str | None:
        return self.outcomes.get((client_id, mutation_id))

    def log(self, entry: LogEntry) -> None:
        self.mutation_log.append(entry)
        if entry.mutation_id is not None:
            self.outcomes[(entry.client_id, entry.mutation_id)] = entry.outcome

    def last_seq(self, client_id: str) -> int:
        return self.last_seqs.get(client_id, 0)

    def set_last_seq(self, client_id: str, seq: int) -> None:
        self.last_seqs[client_id] = seq

    def next_version(self) -> int:
        self.seq += 1
        return self.seq

    def new_id(self) -> uuid.UUID:
        self.ids += 1
        return uuid.uuid5(NAMESPACE, f"conflict/{self.ids}")


class Replica:
    """The server, in memory."""

    def __init__(self, clock: HybridClock, store: ReplicaStore | None = None) -> None:
        self.store = store or ReplicaStore()
        self.clock = clock
        self.devices: dict[str, str] = {}

    def register_device(self, client_id: str, user_id: str) -> None:
        owner = self.devices.setdefault(client_id, user_id)
        if owner != user_id:
            raise ValueError("a device belongs to one user")

    def issue_task(
        self,
        task_id: uuid.UUID,
        assignees: Iterable[str],
        *,
        uscc: str = "",
        points: Iterable[str] = ("1",),
        status: str = "assigned",
    ) -> None:
        version = self.store.next_version()
        self.store.save_task(TaskState(task_id, status, set(assignees), set(), uscc, version))
        for user in assignees:
            self.store.assigned_at[(task_id, user)] = version
        for key in points:
            rid = server_record_id(task_id, "check_item", key)
            self.store.save_record(Record("check_item", rid, task_id, {}, version))
        self.store.save_record(
            Record("result", server_record_id(task_id, "result"), task_id, {}, version)
        )

    def reassign(self, task_id: uuid.UUID, assignees: Iterable[str]) -> None:
        task = self.store.tasks[task_id]
        new = set(assignees)
        version = self.store.next_version()
        for user in task.assignees - new:
            self.store.revocations.append(Revocation(task_id, user, version))
        for user in new - task.assignees:
            self.store.assigned_at[(task_id, user)] = version
        task.past_assignees |= task.assignees - new
        task.past_assignees -= new
        task.assignees = new
        task.version = version

    def set_status(self, task_id: uuid.UUID, to: str) -> None:
        task = self.store.tasks[task_id]
        task.status = to
        task.version = self.store.next_version()

    def push(self, client_id: str, raws: list[bytes]) -> PushOutcome:
        user = self.devices[client_id]
        return Engine(self.store, self.clock).push(Device(client_id, user), raws)

    def visible(self, user_id: str) -> set[uuid.UUID]:
        return {t.id for t in self.store.tasks.values() if user_id in t.assignees}

    def pull(self, client_id: str, cursor: int) -> Pulled:
        user = self.devices[client_id]
        visible = self.visible(user)
        # a task given to the user after the cursor comes whole, whatever its records' versions
        arrived = {t for t in visible if self.store.assigned_at.get((t, user), 0) > cursor}
        return Pulled(
            records=[
                copy.deepcopy(r)
                for r in self.store.records.values()
                if r.task_id in visible and (r.version > cursor or r.task_id in arrived)
            ],
            conflicts=[
                copy.deepcopy(c)
                for c in self.store.conflicts.values()
                if c.task_id in visible and (c.version > cursor or c.task_id in arrived)
            ],
            rejections=[r for r in self.store.rejections if r.client_id == client_id],
            revocations=[
                r.task_id
                for r in self.store.revocations
                if r.user_id == user and r.version > cursor and r.task_id not in visible
            ],
            tasks=[
                copy.deepcopy(t)
                for t in self.store.tasks.values()
                if t.id in visible and t.version > cursor
            ],
            last_seq=self.store.last_seq(client_id),
            cursor=self.store.seq,
        )

    def content_hash(self, task_id: uuid.UUID) -> str:
        task = self.store.tasks[task_id]
        return content_hash(task_id, task.uscc, self.store.records_of_task(task_id))

    def stale_signatures(self, task_id: uuid.UUID) -> dict[uuid.UUID, bool]:
        current = self.content_hash(task_id)
        return {
            r.id: is_stale(r, current)
            for r in self.store.records_of_task(task_id)
            if r.entity == "signature" and not r.deleted
        }

"""What the engine reads and writes: records with per-field registers, tasks, conflicts, rejections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Register:
    """One field's last write: its value, the change sequence that wrote it, and who and when."""

    value: Any
    version: int
    hlc: str
    client_id: str
    user_id: str | None = None
    mutation_id: str | None = None


@dataclass
class Record:
    entity: str
    id: uuid.UUID
    task_id: uuid.UUID
    fields: dict[str, Register]
    version: int
    deleted: bool = False
    created_by: str | None = None
    """The mutation id that created it (client-made records)."""
    deleted_by: Register | None = None
    """The delete's stamp and author, while the record is a tombstone."""

    def value(self, name: str) -> Any:
        """The field's current value (``None`` when it was never written)."""
        register = self.fields.get(name)
        return register.value if register is not None else None


@dataclass
class TaskState:
    id: uuid.UUID
    status: str
    assignees: set[str]
    """User ids assigned now."""
    past_assignees: set[str] = field(default_factory=set)
    """User ids assigned before a reassignment: their late work still applies, flagged."""
    uscc: str = ""
    version: int = 0


@dataclass(frozen=True)
class Side:
    value: Any
    hlc: str
    user_id: str | None
    client_id: str
    mutation_id: str | None


@dataclass
class Conflict:
    id: uuid.UUID
    task_id: uuid.UUID
    entity: str
    entity_id: uuid.UUID
    field: str
    winner: Side
    loser: Side
    status: str = "open"
    resolved_by: Side | None = None
    version: int = 0


@dataclass(frozen=True)
class Rejection:
    mutation_id: str | None
    client_id: str
    seq: int | None
    payload: str
    """The mutation exactly as it arrived (JSON text)."""
    reason_code: str
    reason: str


@dataclass(frozen=True)
class Amendment:
    """A change the task's state no longer allowed: kept for the lead, not applied."""

    mutation_id: str
    client_id: str
    task_id: uuid.UUID
    task_status: str
    payload: str


@dataclass(frozen=True)
class LogEntry:
    mutation_id: str | None
    client_id: str
    seq: int | None
    outcome: str
    flags: tuple[str, ...]
    hlc: str | None = None
    """The stamp exactly as the device sent it (the register may hold a clamped one)."""


class Store(Protocol):
    """Storage behind the engine. The in-memory replica implements it; so does the backend's workspace."""

    def task(self, task_id: uuid.UUID) -> TaskState | None: ...
    def save_task(self, task: TaskState) -> None: ...
    def record(self, entity: str, record_id: uuid.UUID) -> Record | None: ...
    def save_record(self, record: Record) -> None: ...
    def records_of_task(self, task_id: uuid.UUID) -> list[Record]: ...
    def conflict(self, conflict_id: uuid.UUID) -> Conflict | None: ...
    def save_conflict(self, conflict: Conflict) -> None: ...
    def add_rejection(self, rejection: Rejection) -> None: ...
    def add_amendment(self, amendment: Amendment) -> None: ...
    def outcome_of(self, client_id: str, mutation_id: str) -> str | None: ...
    def log(self, entry: LogEntry) -> None: ...
    def last_seq(self, client_id: str) -> int: ...
    def set_last_seq(self, client_id: str, seq: int) -> None: ...
    def next_version(self) -> int: ...
    def new_id(self) -> uuid.UUID: ...

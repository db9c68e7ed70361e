"""What push and pull answer (``docs/sync-protocol.md``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import msgspec

from backend.domain.deadlines.lights import Light
from backend.domain.deadlines.views import DeadlinesOut
from backend.domain.tasks.schemas import CodeTableOut, InspectorRef, ObjectDetail, TaskItemOut


class PulledRecord(msgspec.Struct, kw_only=True):
    entity: str
    id: uuid.UUID
    task_id: uuid.UUID
    version: int
    deleted: bool
    fields: dict[str, dict[str, Any]]
    """Each field: ``value``, ``version``, ``hlc``, ``client_id``, ``user_id``, ``mutation_id``."""


class PulledConflict(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    task_id: uuid.UUID
    entity: str
    entity_id: uuid.UUID
    field: str
    winner: dict[str, Any]
    loser: dict[str, Any]
    status: str
    resolved_by: dict[str, Any] | None
    version: int


class PulledRejection(msgspec.Struct, kw_only=True):
    mutation_id: str | None
    client_id: str
    seq: int | None
    payload: str
    reason_code: str
    reason: str
    at: datetime
    version: int


class PulledTask(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    name: str
    status: str
    version: int
    issued_on: date
    due_on: date
    deadlines: DeadlinesOut
    light: Light
    object: ObjectDetail
    inspectors: list[InspectorRef]
    items: list[TaskItemOut] | None
    """The items with their checklists, sent when the device first sees the task."""
    review_note: str | None = None
    """Why the team lead returned the record (退回原因) or reopened it for a correction (更正),
    while it is returned or reopened."""


class PullResponse(msgspec.Struct, kw_only=True):
    server_epoch: str
    reset: bool
    cursor: int
    next_cursor: int
    until: int
    has_more: bool
    last_seq: int
    tasks: list[PulledTask]
    records: list[PulledRecord]
    conflicts: list[PulledConflict]
    rejections: list[PulledRejection]
    revocations: list[uuid.UUID]
    code_tables: list[CodeTableOut] | None
    """Sent on a first pull, and whenever the device's copies are not the current versions."""


class DeviceOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    registered_at: datetime
    last_seq: int

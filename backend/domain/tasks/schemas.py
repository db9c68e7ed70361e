"""What the task API answers (snake_case JSON)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import msgspec

from backend.domain.deadlines.lights import Light
from backend.domain.deadlines.views import DeadlinesOut


class InspectorRef(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    display_name: str
    is_primary: bool
    department_name: str
    certificate_no: str | None
    certificate_valid_until: date | None


class ObjectSummary(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    uscc: str
    address: str


class TaskSummary(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    name: str
    status: str
    issued_on: date
    due_on: date
    overdue: bool
    """The light is red: a deadline has passed."""
    light: Light
    deadlines: DeadlinesOut
    is_joint: bool
    item_count: int
    object: ObjectSummary
    inspectors: list[InspectorRef]
    updated_at: datetime


class TaskPage(msgspec.Struct, kw_only=True):
    items: list[TaskSummary]
    total: int
    limit: int
    offset: int


class ObjectDetail(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    uscc: str
    name: str
    kind: str
    address: str
    legal_representative: str
    legal_representative_phone: str | None
    contact_person: str | None
    contact_phone: str | None
    industry: str | None
    risk_level: str | None
    credit_class: str | None
    latitude: str | None
    longitude: str | None


class ChecklistPointOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    check_item_id: uuid.UUID
    """The synced ``check_item`` record of this point on this task (its 是否符合 and problem text)."""
    ordinal: int
    content: str
    method: str
    default_problem_text: str


class TaskItemOut(msgspec.Struct, kw_only=True):
    item_code: str
    item_version: int
    name: str
    basis: str
    category: str
    method: str
    qualification_area: str
    department_id: uuid.UUID
    department_name: str
    checklist: list[ChecklistPointOut]


class PlanRef(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    name: str
    starts_on: date
    ends_on: date


class CodeTableOut(msgspec.Struct, kw_only=True):
    name: str
    version: int
    title: str
    entries: list[dict[str, Any]]
    published_at: datetime


class AssignmentHistoryOut(msgspec.Struct, kw_only=True):
    at: datetime
    action: str
    by_user_id: uuid.UUID | None
    inspector_ids: list[str]
    primary_id: uuid.UUID
    previous_inspector_ids: list[str]
    reason: str | None


class TaskDetail(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    code: str
    name: str
    status: str
    issued_on: date
    due_on: date
    overdue: bool
    light: Light
    deadlines: DeadlinesOut
    checked_in_at: datetime | None
    checked_at: datetime | None
    results_entered_at: datetime | None
    published_at: datetime | None
    is_joint: bool
    batch_ref: str | None
    plan: PlanRef
    lead_department_id: uuid.UUID
    lead_department_name: str
    object: ObjectDetail
    items: list[TaskItemOut]
    inspectors: list[InspectorRef]
    assignment_history: list[AssignmentHistoryOut]
    code_tables: list[CodeTableOut]
    updated_at: datetime

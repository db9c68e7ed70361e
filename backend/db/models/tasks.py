"""Plans, tasks, their items, their inspectors and the assignment history."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ._base import Base, CreatedMixin, IdMixin, utcnow
from .catalog import InspectionItemVersion
from .objects import InspectionObject
from .people import Department, _enum


class TaskStatus(enum.StrEnum):
    """The task's state machine (DESIGN §4); the server is authoritative."""

    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    FORWARDED = "forwarded"
    PUBLISHED = "published"
    HELD = "held"
    WITHDRAWN = "withdrawn"
    REOPENED = "reopened"


class Plan(IdMixin, CreatedMixin, Base):
    """抽查计划: the plan a task was drawn under; its end bounds the result entry."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    deadline_config: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """Overrides of the default time limits and light thresholds (``backend.domain.deadlines.config``)."""


class Task(IdMixin, CreatedMixin, Base):
    """One inspection of one object for one or more items (进一次门、查多项事)."""

    __tablename__ = "tasks"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    """任务编号"""
    name: Mapped[str] = mapped_column(String(200))
    """任务名称"""
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    batch_ref: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inspection_objects.id"), index=True)
    lead_department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)
    issued_on: Mapped[date]
    due_on: Mapped[date] = mapped_column(index=True)
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus, "task_status"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sync_version: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    """The change sequence of the task's last change that phones pull (status, deadlines, assignment)."""

    # the facts the time limits run from (taken on the phone, arriving through sync)
    checked_in_at: Mapped[datetime | None]
    """Check-in on site."""
    checked_at: Mapped[datetime | None]
    """Check-out on site: the check's time, from which the 48 hours run."""
    results_entered_at: Mapped[datetime | None]
    """When the result was captured on the phone."""
    results_received_at: Mapped[datetime | None]
    """When the server received it."""
    published_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    """Why the team lead returned the record (退回原因); the phones show it."""

    # a task imported from the main platform's feed (``backend.domain.upstream.importer``)
    platform_ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    """The platform's reference of the task; ``None`` for a task issued here."""
    platform_version: Mapped[int | None] = mapped_column(BigInteger)
    """The feed version last taken in: an older or equal version is ignored."""
    platform_task: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """The feed's task object of that version, as received (what the platform asked for)."""
    hold_reason: Mapped[str | None] = mapped_column(Text)
    """Why an imported task is ``held`` (the rule it breaks), for the team lead."""
    platform_change_pending: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """A platform change not applied because local work is under way: kept for the lead."""

    # the deadlines, computed by the server (backend.domain.deadlines) whenever their inputs change
    due_at: Mapped[datetime | None]
    entry_deadline_at: Mapped[datetime | None]
    publication_deadline_at: Mapped[datetime | None]
    deadlines_calendar_complete: Mapped[bool] = mapped_column(default=True)
    deadlines_assumed_years: Mapped[list[int]] = mapped_column(default=list)
    """Years without an official schedule that a deadline was counted through (plain weekends assumed)."""

    plan: Mapped[Plan] = relationship(lazy="raise")
    object: Mapped[InspectionObject] = relationship(lazy="raise")
    lead_department: Mapped[Department] = relationship(lazy="raise")
    items: Mapped[list[TaskItem]] = relationship(lazy="raise", order_by="TaskItem.ordinal")
    assignments: Mapped[list[TaskAssignment]] = relationship(lazy="raise")

    @property
    def is_joint(self) -> bool:
        return len({item.department_id for item in self.items}) > 1


class TaskItem(Base):
    """An item of a task, pinned to the item version (and so the checklist) it was issued with."""

    __tablename__ = "task_items"

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    item_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inspection_item_versions.id"), primary_key=True
    )
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    ordinal: Mapped[int] = mapped_column(Integer)

    item_version: Mapped[InspectionItemVersion] = relationship(lazy="raise")


class TaskAssignment(Base):
    """A current assignee of a task; exactly one per task is the primary (主检)."""

    __tablename__ = "task_assignments"

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    is_primary: Mapped[bool] = mapped_column(default=False)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_version: Mapped[int] = mapped_column(BigInteger, default=0)
    """The change sequence when this user got the task: a pull from before it sends the task whole."""


class AssignmentHistoryEntry(IdMixin, Base):
    """Every (re)assignment of a task: who, when, to whom, from whom and why."""

    __tablename__ = "assignment_history"
    __table_args__ = (UniqueConstraint("task_id", "ordinal"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    """``assigned`` or ``reassigned``."""
    inspector_ids: Mapped[list[str]] = mapped_column()
    primary_id: Mapped[uuid.UUID] = mapped_column()
    previous_inspector_ids: Mapped[list[str]] = mapped_column(default=list)
    reason: Mapped[str | None] = mapped_column(Text)

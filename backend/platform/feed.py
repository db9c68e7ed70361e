"""The task feed (抽查任务下发): a change feed of the platform's inspection tasks.

Every change to a task — created, changed, withdrawn — gives it a new version and a new global
sequence number. A page lists, in sequence order, the *latest* version of each task changed after
the cursor (so a task appears at most once per page), at most ``limit`` of them, and the cursor
to send next. A cursor is opaque: it names this platform instance and a sequence number, so a
cursor from before a restart of the (in-memory) stand-in is refused rather than misread — the
reader then starts again from the beginning.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from .errors import InvalidCursor, NotFound

USCC = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
"""A unified social credit code (统一社会信用代码): 18 characters, no I, O, S, V or Z."""
Text = Annotated[str, Meta(min_length=1, max_length=500)]
Uscc = Annotated[str, Meta(pattern=USCC)]
TaskRef = Annotated[str, Meta(min_length=1, max_length=200)]
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class Plan(Struct, forbid_unknown_fields=True):
    """The sampling plan (抽查计划) a task belongs to."""

    code: Text
    name: Text
    starts_on: date
    ends_on: date

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise ValueError("the plan ends before it starts")


class InspectionObject(Struct, forbid_unknown_fields=True):
    """The inspected market subject (检查对象)."""

    uscc: Uscc
    name: Text
    address: str
    legal_representative: str
    phone: str


class Task(Struct, forbid_unknown_fields=True):
    """An inspection task (抽查任务) as the platform issues it."""

    code: Text
    name: Text
    plan: Plan
    object: InspectionObject
    item_codes: Annotated[list[Text], Meta(min_length=1)]
    department_code: Uscc
    inspector_subjects: Annotated[list[Text], Meta(min_length=1)]
    primary_subject: Text
    issued_on: date
    due_on: date

    def __post_init__(self) -> None:
        if self.primary_subject not in self.inspector_subjects:
            raise ValueError("primary_subject must be one of inspector_subjects")
        if len(set(self.inspector_subjects)) != len(self.inspector_subjects):
            raise ValueError("inspector_subjects names someone twice")
        if self.due_on < self.issued_on:
            raise ValueError("the task is due before it is issued")


class FeedItem(Struct):
    task_ref: str
    version: int
    state: Literal["active", "withdrawn"]
    task: Task | None


class FeedPage(Struct):
    items: list[FeedItem]
    cursor: str
    more: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    sequence: int
    item: FeedItem


class TaskFeed:
    """The platform's tasks and their change feed (in memory)."""

    def __init__(self, initial: Iterable[Mapping[str, Any]] = ()) -> None:
        self._instance = secrets.token_hex(4)
        self._sequence = 0
        self._entries: dict[str, _Entry] = {}
        """By task, in the order of their latest change (a change moves a task to the end)."""
        for number, seeded in enumerate(initial):
            fields = dict(seeded)
            if "task_ref" not in fields:
                raise ValueError(f"PlatformSettings.tasks[{number}] has no task_ref")
            try:
                task_ref = msgspec.convert(fields.pop("task_ref"), TaskRef)
                self.put(task_ref, msgspec.convert(fields, Task))
            except msgspec.ValidationError as exc:
                raise ValueError(f"PlatformSettings.tasks[{number}]: {exc}") from exc

    def put(self, task_ref: str, task: Task) -> FeedItem:
        """Creates the task or changes it: a new version, a new place in the feed."""
        previous = self._entries.get(task_ref)
        version = previous.item.version + 1 if previous else 1
        return self._change(FeedItem(task_ref, version, "active", task))

    def withdraw(self, task_ref: str) -> FeedItem:
        """Withdraws a task (a new version without a body); withdrawing it again changes nothing."""
        previous = self._entries.get(task_ref)
        if previous is None:
            raise NotFound(f"no task {task_ref!r}")
        if previous.item.state == "withdrawn":
            return previous.item
        return self._change(FeedItem(task_ref, previous.item.version + 1, "withdrawn", None))

    def page(self, cursor: str | None, limit: int = DEFAULT_LIMIT) -> FeedPage:
        after = self._position(cursor) if cursor is not None else 0
        changed = [entry for entry in self._entries.values() if entry.sequence > after]
        shown = changed[:limit]
        last = shown[-1].sequence if shown else after
        return FeedPage([e.item for e in shown], self._cursor(last), len(changed) > len(shown))

    def _change(self, item: FeedItem) -> FeedItem:
        self._sequence += 1
        self._entries.pop(item.task_ref, None)
        self._entries[item.task_ref] = _Entry(self._sequence, item)
        return item

    def _cursor(self, sequence: int) -> str:
        raw = f"{self._instance}.{sequence}".encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def _position(self, cursor: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            instance, _, number = raw.partition(".")
            sequence = int(number)
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidCursor("the cursor is not one this feed handed out") from exc
        if instance != self._instance or not 0 <= sequence <= self._sequence:
            raise InvalidCursor(
                "the cursor is from another instance of the platform: start again without one"
            )
        return sequence

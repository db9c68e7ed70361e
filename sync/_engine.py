"""Applying a device's push: ordered, idempotent, every mutation merged by its field kind or kept.

The contract (DESIGN §4, docs/sync-protocol.md):

* mutations are processed in ``seq`` order; ``seq`` ≤ the device's ``last_seq`` was processed
  already (``skipped``); a gap stops the push and the server answers the seq it expects;
* a mutation id seen before (under another seq) has no second effect (``duplicate``);
* one that can never apply — undecodable, invalid, unauthorised — is stored as rejected with
  its payload verbatim and ``last_seq`` moves past it; the batch goes on;
* an edit or transition the task's state no longer allows is kept as an amendment for the lead;
* ``set``: a last-writer-wins register per field; when the writer had not seen the current
  value, the value was written by another device and the two differ, the greater HLC wins and
  a conflict record keeps both; equal values merge silently (the greater HLC stays); a device
  never conflicts with its own edits;
* ``delete``: a tombstone; a delete that had not seen another device's later edit loses
  (conflict on ``_deleted``), and an edit that had not seen a delete brings the record back
  (conflict on ``_deleted``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from . import _status as status
from ._entities import ENTITIES
from ._errors import InvalidHlc, InvalidMutation
from ._hlc import Hlc, HybridClock
from ._messages import Mutation, MutationResult
from ._state import (
    Amendment,
    Conflict,
    LogEntry,
    Record,
    Register,
    Rejection,
    Side,
    Store,
    TaskState,
)

DELETED = "_deleted"


@dataclass(frozen=True)
class Device:
    client_id: str
    user_id: str


@dataclass
class PushOutcome:
    last_seq: int
    expected_seq: int | None
    results: list[MutationResult] = field(default_factory=list)


_LOOSE_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,64})"')
_LOOSE_SEQ = re.compile(rb'"seq"\s*:\s*(\d{1,15})\b')


def _lenient(raw: bytes) -> dict[str, Any]:
    """What can be read of a mutation that does not decode: its id and seq, so its place is kept."""
    try:
        value = msgspec.json.decode(raw)
        if isinstance(value, str):  # a mutation encoded twice: read what the inner text holds
            return _lenient(value.encode())
    except msgspec.DecodeError:
        found: dict[str, Any] = {}
        if match := _LOOSE_ID.search(raw):
            found["id"] = match.group(1).decode("utf-8", errors="replace")
        if match := _LOOSE_SEQ.search(raw):
            found["seq"] = int(match.group(1))
        return found
    return value if isinstance(value, dict) else {}


def _clean(text: str) -> str:
    """Text safe to store anywhere (PostgreSQL refuses NUL)."""
    return text.replace("\x00", "\\u0000")


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _loose_id(value: Any) -> str | None:
    """A mutation id read from something that did not decode: canonical when it is a UUID."""
    if value is None:
        return None
    if isinstance(value, str) and _CANONICAL_UUID.match(value):
        return value  # already what str(uuid.UUID(value)) gives
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return _clean(str(value))[:64]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


class Peek(NamedTuple):
    """What can be read of a pushed mutation without decoding it strictly."""

    mutation_id: str | None
    """The id the engine de-duplicates it by (canonical when it is a UUID)."""
    seq: int | None
    """Its place in the device's order, when one can be read."""
    fields: dict[str, Any]
    """Whatever fields could be read (a store loads what they name)."""


class Place(msgspec.Struct):
    """A mutation's id and seq as they stand in its JSON, read without the rest."""

    id: Any = None
    seq: Any = None

    @property
    def mutation_id(self) -> str | None:
        """The id as :func:`peek` reads it (canonical when it is a UUID)."""
        return _loose_id(self.id)

    @property
    def position(self) -> int | None:
        """The seq as :func:`peek` reads it: its place in the device's order, if it has one."""
        return _int(self.seq)


_PLACE = msgspec.json.Decoder(Place)


def place(raw: bytes) -> Place | None:
    """A mutation's top-level id and seq, without reading the rest (:func:`peek` agrees).

    ``None`` when ``raw`` is not a JSON object (then only :func:`peek` can say). Enough to
    skip a mutation at or below the device's ``last_seq``, the whole of a replayed push.
    """
    try:
        return _PLACE.decode(raw)
    except msgspec.DecodeError:
        return None


def peek(raw: bytes, *, placed: Place | None = None) -> Peek:
    """Read a pushed mutation as leniently as the engine does when it does not decode.

    When it does decode, its id and seq read the same, so a store can tell from ``peek``
    which mutations the engine will skip (``seq`` at or below the device's ``last_seq``)
    and which ids it will look up. ``placed`` is :func:`place` of ``raw`` if already read.
    """
    loose = _lenient(raw)
    known = placed if placed is not None else place(raw)
    if known is not None:  # a JSON object: its own top-level id and seq, whatever else it holds
        return Peek(known.mutation_id, known.position, loose)
    return Peek(_loose_id(loose.get("id")), _int(loose.get("seq")), loose)


class Engine:
    """Applies pushes to a ``Store``. Pure: no I/O beyond the store it is given."""

    def __init__(self, store: Store, clock: HybridClock) -> None:
        self.store = store
        self.clock = clock

    # --- the push ---------------------------------------------------------------------

    def push(
        self,
        device: Device,
        raws: Sequence[bytes],
        places: Sequence[Place | None] | None = None,
    ) -> PushOutcome:
        """Apply ``raws`` in order. ``places``, when given, is :func:`place` of each (already read)."""
        last = self.store.last_seq(device.client_id)
        outcome = PushOutcome(last_seq=last, expected_seq=None)
        for index, raw in enumerate(raws):
            known = place(raw) if places is None else places[index]
            position = known.position if known is not None else None
            if known is not None and position is not None and position <= outcome.last_seq:
                outcome.results.append(
                    MutationResult(mutation_id=known.mutation_id, seq=position, outcome="skipped")
                )
                continue
            try:
                mutation: Mutation | None = msgspec.json.decode(raw, type=Mutation)
                error: InvalidMutation | None = None
            except msgspec.DecodeError as exc:
                mutation, error = None, InvalidMutation("invalid", f"not a valid mutation: {exc}")
            if mutation is not None:
                mutation_id: str | None = str(mutation.id)
                seq: int | None = mutation.seq
            else:
                mutation_id, seq, _ = peek(raw)
            if seq is None:
                seq = (
                    outcome.last_seq + 1
                )  # an unreadable mutation takes the next place in the order
            if seq <= outcome.last_seq:
                outcome.results.append(
                    MutationResult(mutation_id=mutation_id, seq=seq, outcome="skipped")
                )
                continue
            if seq > outcome.last_seq + 1:
                outcome.expected_seq = outcome.last_seq + 1
                break
            seen = self.store.outcome_of(device.client_id, mutation_id) if mutation_id else None
            if seen is not None:
                outcome.results.append(
                    MutationResult(
                        mutation_id=mutation_id, seq=seq, outcome="duplicate", reason=seen
                    )
                )
                outcome.last_seq = seq  # its place in the order is taken, with no second effect
                continue
            if error is None and mutation is not None and mutation.client_id != device.client_id:
                error = InvalidMutation("unauthorized", "a device pushes only its own mutations")
            if error is not None:
                result = self._reject(device, raw, mutation_id, seq, error)
            else:
                assert mutation is not None
                try:
                    result = self._apply(device, mutation, raw)
                except InvalidMutation as exc:
                    result = self._reject(device, raw, mutation_id, seq, exc)
            outcome.results.append(result)
            outcome.last_seq = seq
        self.store.set_last_seq(device.client_id, outcome.last_seq)
        return outcome

    def _reject(
        self,
        device: Device,
        raw: bytes,
        mutation_id: str | None,
        seq: int | None,
        error: InvalidMutation,
    ) -> MutationResult:
        self.store.add_rejection(
            Rejection(
                mutation_id=mutation_id,
                client_id=device.client_id,
                seq=seq,
                payload=raw.decode("utf-8", errors="replace"),
                reason_code=error.code,
                reason=_clean(error.reason),
            )
        )
        self.store.log(LogEntry(mutation_id, device.client_id, seq, "rejected", (), None))
        return MutationResult(
            mutation_id=mutation_id,
            seq=seq,
            outcome="rejected",
            reason_code=error.code,
            reason=_clean(error.reason),
        )

    def _apply(self, device: Device, m: Mutation, raw: bytes) -> MutationResult:
        try:
            observed = self.clock.observe(Hlc.parse(m.hlc))
        except InvalidHlc as exc:
            raise InvalidMutation("invalid", str(exc)) from exc
        if observed.effective.node != m.client_id:
            raise InvalidMutation("invalid", "the HLC's node must be the mutation's client_id")
        flags: list[str] = ["clock_skew"] if observed.skewed else []
        stamp = str(observed.effective)
        task = self.store.task(m.task_id)
        if task is None:
            raise InvalidMutation("unknown_task", "no such task")
        if device.user_id in task.assignees:
            pass
        elif device.user_id in task.past_assignees:
            flags.append("late")
        else:
            raise InvalidMutation(
                "unauthorized", "the user is not and was not assigned to this task"
            )
        result = self._dispatch(device, m, task, stamp, raw, late="late" in flags)
        result.flags = flags
        self.store.log(
            LogEntry(
                result.mutation_id, device.client_id, m.seq, result.outcome, tuple(flags), m.hlc
            )
        )
        return result

    def _dispatch(
        self, device: Device, m: Mutation, task: TaskState, stamp: str, raw: bytes, *, late: bool
    ) -> MutationResult:
        if m.kind == "transition":
            return self._transition(device, m, task, raw, late=late)
        if m.kind == "resolve_conflict":
            return self._resolve(device, m, task, stamp)
        spec = ENTITIES.get(m.entity)
        if spec is None:
            raise InvalidMutation("unknown_entity", f"no entity {m.entity!r}")
        if m.kind == "create":
            if spec.server_made:
                raise InvalidMutation("invalid", f"{m.entity} records are made by the server")
            spec.validate(m.payload, creating=True)
        elif m.kind == "set":
            if spec.immutable:
                raise InvalidMutation("immutable", f"{m.entity} records cannot change once created")
            spec.validate(m.payload, creating=False)
        elif m.kind == "delete" and not spec.deletable:
            raise InvalidMutation("not_deletable", f"{m.entity} records cannot be deleted")
        if task.status not in status.EDITABLE:
            # kept for the lead whatever it touches: a late create and the edits after it stay together
            return self._amend(device, m, task, raw)
        record = self.store.record(m.entity, m.entity_id)
        if record is not None and record.task_id != m.task_id:
            raise InvalidMutation("invalid", "the record belongs to another task")
        if m.kind != "create" and record is None:
            raise InvalidMutation("unknown_record", f"no {m.entity} {m.entity_id}")
        if m.kind == "create" and record is not None:
            raise InvalidMutation("id_taken", f"{m.entity} {m.entity_id} exists already")
        side = Side(
            value=None,
            hlc=stamp,
            user_id=device.user_id,
            client_id=device.client_id,
            mutation_id=str(m.id),
        )
        if m.kind == "create":
            return self._create(m, side)
        assert record is not None
        if m.kind == "set":
            return self._set(m, record, side)
        return self._delete(m, record, side)

    def _amend(self, device: Device, m: Mutation, task: TaskState, raw: bytes) -> MutationResult:
        self.store.add_amendment(
            Amendment(
                mutation_id=str(m.id),
                client_id=device.client_id,
                task_id=task.id,
                task_status=task.status,
                payload=raw.decode("utf-8", errors="replace"),
            )
        )
        return MutationResult(
            mutation_id=str(m.id),
            seq=m.seq,
            outcome="amendment",
            reason_code="task_state",
            reason=f"the task is {task.status}: kept for the lead",
        )

    def _register(self, value: Any, version: int, side: Side) -> Register:
        return Register(value, version, side.hlc, side.client_id, side.user_id, side.mutation_id)

    def _create(self, m: Mutation, side: Side) -> MutationResult:
        version = self.store.next_version()
        fields = {name: self._register(value, version, side) for name, value in m.payload.items()}
        self.store.save_record(
            Record(m.entity, m.entity_id, m.task_id, fields, version, created_by=side.mutation_id)
        )
        return MutationResult(mutation_id=side.mutation_id, seq=m.seq, outcome="applied")

    def _conflict(self, record: Record, name: str, winner: Side, loser: Side) -> None:
        self.store.save_conflict(
            Conflict(
                id=self.store.new_id(),
                task_id=record.task_id,
                entity=record.entity,
                entity_id=record.id,
                field=name,
                winner=winner,
                loser=loser,
                version=self.store.next_version(),
            )
        )

    @staticmethod
    def _side(register: Register) -> Side:
        return Side(
            register.value, register.hlc, register.user_id, register.client_id, register.mutation_id
        )

    def _set(self, m: Mutation, record: Record, side: Side) -> MutationResult:
        version = self.store.next_version()
        lost = False
        resurrected = False
        if record.deleted:
            assert record.deleted_by is not None
            saw_delete = max(m.base_versions.values(), default=0) >= record.version
            if saw_delete or record.deleted_by.client_id == side.client_id:
                raise InvalidMutation("deleted", f"{m.entity} {m.entity_id} was deleted")
            # an edit that did not see the delete brings the record back
            self._conflict(
                record,
                DELETED,
                Side(False, side.hlc, side.user_id, side.client_id, side.mutation_id),
                self._side(record.deleted_by),
            )
            record.deleted, record.deleted_by = False, None
            resurrected = True
        written = False
        for name, value in m.payload.items():
            new = Side(value, side.hlc, side.user_id, side.client_id, side.mutation_id)
            current = record.fields.get(name)
            if (
                current is None
                or m.base_versions.get(name) == current.version
                or current.client_id == side.client_id
            ):
                record.fields[name] = self._register(value, version, side)
                written = True
            elif current.value == value:
                if side.hlc > current.hlc:
                    record.fields[name] = self._register(value, version, side)
                    written = True
            elif side.hlc > current.hlc:
                self._conflict(record, name, new, self._side(current))
                record.fields[name] = self._register(value, version, side)
                written = True
            else:
                self._conflict(record, name, self._side(current), new)
                lost = True
        if written or resurrected:
            record.version = version  # a record back from the dead is news to every device
            self.store.save_record(record)
        return MutationResult(
            mutation_id=str(m.id),
            seq=m.seq,
            outcome="conflict" if lost and not written else "applied",
        )

    def _delete(self, m: Mutation, record: Record, side: Side) -> MutationResult:
        if record.deleted:
            return MutationResult(mutation_id=side.mutation_id, seq=m.seq, outcome="applied")
        base = m.base_version or 0
        unseen = [
            r for r in record.fields.values() if r.version > base and r.client_id != side.client_id
        ]
        last = max(unseen, key=lambda r: r.version, default=None)
        if last is not None:
            # another device wrote the record after what the deleter saw: the edit wins
            self._conflict(
                record,
                DELETED,
                Side(False, last.hlc, last.user_id, last.client_id, last.mutation_id),
                Side(True, side.hlc, side.user_id, side.client_id, side.mutation_id),
            )
            return MutationResult(mutation_id=side.mutation_id, seq=m.seq, outcome="conflict")
        record.deleted = True
        record.deleted_by = self._register(True, 0, side)
        record.version = self.store.next_version()
        record.deleted_by.version = record.version
        self.store.save_record(record)
        return MutationResult(mutation_id=side.mutation_id, seq=m.seq, outcome="applied")

    def _transition(
        self, device: Device, m: Mutation, task: TaskState, raw: bytes, *, late: bool
    ) -> MutationResult:
        to = m.payload.get("to")
        if set(m.payload) != {"to"} or not isinstance(to, str) or to not in status.ALL:
            raise InvalidMutation("invalid", 'a transition carries {"to": <status>}')
        if late or not status.client_may(task.status, to):
            # someone no longer assigned does not move the new team's task: the lead decides
            return self._amend(device, m, task, raw)
        task.status = to
        task.version = self.store.next_version()
        self.store.save_task(task)
        return MutationResult(mutation_id=str(m.id), seq=m.seq, outcome="applied")

    def _resolve(self, device: Device, m: Mutation, task: TaskState, stamp: str) -> MutationResult:
        raw_id = m.payload.get("conflict_id")
        note = m.payload.get("note")
        if (
            set(m.payload) - {"conflict_id", "note"}
            or not isinstance(raw_id, str)
            or (
                note is not None
                and not (isinstance(note, str) and len(note) <= 500 and "\x00" not in note)
            )
        ):
            raise InvalidMutation(
                "invalid", 'resolve_conflict carries {"conflict_id": …, "note": …}'
            )
        try:
            conflict = self.store.conflict(uuid.UUID(raw_id))
        except ValueError as exc:
            raise InvalidMutation("invalid", "conflict_id is not a uuid") from exc
        if conflict is None or conflict.task_id != task.id:
            raise InvalidMutation("unknown_record", "no such conflict on this task")
        if conflict.status != "resolved":
            conflict.status = "resolved"
            conflict.resolved_by = Side(note, stamp, device.user_id, device.client_id, str(m.id))
            conflict.version = self.store.next_version()
            self.store.save_conflict(conflict)
        return MutationResult(mutation_id=str(m.id), seq=m.seq, outcome="applied")

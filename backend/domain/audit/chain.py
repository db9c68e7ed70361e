"""The hash chain: the canonical form of an event, writing under the head lock, verification.

Each event's hash is the sha256 of the RFC 8785 canonical JSON of its fields together with
the previous event's hash (``sync.canonical_digest``). The chain head row is locked while
events are appended, so the chain has one order however many transactions write at once.
Verification walks the chain in ``seq`` order and checks, for each event, that ``seq`` has
no gap, that ``prev_hash`` is the previous event's hash and that the stored hash is the
hash of the stored fields; then it checks the head row and every anchor kept outside the
database, which catches a truncated tail or a chain rewritten with recomputed hashes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from backend.db.models import AuditChainHead, AuditEvent
from sync import canonical_digest

GENESIS_HASH = "0" * 64
HEAD_ID = 1


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uuid(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event waiting for its place in the chain (its ``seq`` and hashes)."""

    at: datetime
    actor_user_id: uuid.UUID | None
    actor_device_id: uuid.UUID | None
    actor_role: str
    action: str
    subject_kind: str
    subject_id: str
    task_id: uuid.UUID | None
    request_id: str | None
    reason: str | None
    before_digest: str | None
    after_digest: str | None
    details: dict[str, Any] = field(default_factory=dict)


def canonical_event(row: AuditEvent | EventDraft, *, seq: int, prev_hash: str) -> dict[str, Any]:
    """The content an event's hash covers."""
    return {
        "seq": seq,
        "at": rfc3339(row.at),
        "actor": {
            "user_id": _uuid(row.actor_user_id),
            "device_id": _uuid(row.actor_device_id),
            "role": row.actor_role,
        },
        "action": row.action,
        "subject": {"kind": row.subject_kind, "id": row.subject_id},
        "task_id": _uuid(row.task_id),
        "request_id": row.request_id,
        "reason": row.reason,
        "before": row.before_digest,
        "after": row.after_digest,
        "details": row.details,
        "prev_hash": prev_hash,
    }


def event_hash(row: AuditEvent | EventDraft, *, seq: int, prev_hash: str) -> str:
    return canonical_digest(canonical_event(row, seq=seq, prev_hash=prev_hash))


_HEAD = (
    select(AuditChainHead.seq, AuditChainHead.hash)
    .where(AuditChainHead.id == HEAD_ID)
    .with_for_update()
)
_HEADS = cast(Table, AuditChainHead.__table__)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.id == HEAD_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_INSERT_EVENTS = insert(cast(Table, AuditEvent.__table__))


def append(session: Session, drafts: Sequence[EventDraft]) -> int:
    """Append ``drafts`` after the head, holding the head row's lock until the transaction ends.

    Returns the new head's sequence number. Core statements: the trail is written on every
    request that changes something, and is never read back in the same transaction.
    """
    head = session.execute(_HEAD).one()
    seq, prev_hash = int(head.seq), str(head.hash)
    rows: list[dict[str, Any]] = []
    for draft in drafts:
        seq += 1
        digest = event_hash(draft, seq=seq, prev_hash=prev_hash)
        rows.append(
            {
                "seq": seq,
                "at": draft.at,
                "actor_user_id": draft.actor_user_id,
                "actor_device_id": draft.actor_device_id,
                "actor_role": draft.actor_role,
                "action": draft.action,
                "subject_kind": draft.subject_kind,
                "subject_id": draft.subject_id,
                "task_id": draft.task_id,
                "request_id": draft.request_id,
                "reason": draft.reason,
                "before_digest": draft.before_digest,
                "after_digest": draft.after_digest,
                "details": draft.details,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    if rows:
        session.execute(_INSERT_EVENTS, rows)
        session.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return seq


# --- anchors: the head recorded outside the database ----------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    at: str

    def line(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at}, sort_keys=True)


class AnchorFileError(ValueError):
    """The anchor file has a line that is not an anchor."""


def read_anchors(path: Path) -> list[Anchor]:
    if not path.exists():
        return []
    found: list[Anchor] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            found.append(Anchor(seq=int(data["seq"]), hash=str(data["hash"]), at=str(data["at"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorFileError(f"{path}:{number}: not an anchor: {line[:80]!r}") from exc
    return found


def append_anchor(path: Path, anchor: Anchor) -> None:
    """Append one line and force it to disk: the operator keeps this file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(anchor.line() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# --- verification ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    seq: int
    problem: str


@dataclass
class Report:
    events: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    anchors_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.intact:
            return (
                f"audit chain intact: {self.events} events, head seq {self.last_seq} hash {self.last_hash}, "
                f"{self.anchors_checked} anchors agree"
            )
        first = self.findings[0]
        return f"audit chain BROKEN at event {first.seq}: {first.problem}"


def walk(
    rows: Iterator[AuditEvent], head: AuditChainHead | None, anchors: Sequence[Anchor]
) -> Report:
    """Check a chain given its events in ``seq`` order, its head row and the anchors."""
    report = Report(anchors_checked=len(anchors))
    anchored: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        anchored.setdefault(anchor.seq, []).append(anchor)
    expected_seq = 1
    prev_hash = GENESIS_HASH

    def broken(seq: int, problem: str) -> Report:
        report.findings.append(Finding(seq, problem))
        return report

    for row in rows:
        report.events += 1
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                return broken(
                    expected_seq, f"event {expected_seq} is missing (the next event is {row.seq})"
                )
            return broken(row.seq, f"event {row.seq} is out of order")
        if row.prev_hash != prev_hash:
            return broken(
                row.seq,
                f"prev_hash {row.prev_hash[:16]}… does not link to event {row.seq - 1} ({prev_hash[:16]}…)",
            )
        recomputed = event_hash(row, seq=row.seq, prev_hash=row.prev_hash)
        if recomputed != row.hash:
            return broken(
                row.seq,
                f"content does not match its hash (stored {row.hash[:16]}…, recomputed {recomputed[:16]}…): "
                "a field was changed",
            )
        for anchor in anchored.get(row.seq, ()):
            if anchor.hash != row.hash:
                return broken(
                    row.seq,
                    f"event {row.seq} has hash {row.hash[:16]}… but the anchor of {anchor.at} recorded "
                    f"{anchor.hash[:16]}…: the chain was rewritten from this event or an earlier one",
                )
        prev_hash = row.hash
        report.last_seq, report.last_hash = row.seq, row.hash
        expected_seq += 1
    beyond = [a for a in anchors if a.seq > report.last_seq]
    if beyond:
        latest = max(beyond, key=lambda a: a.seq)
        return broken(
            report.last_seq + 1,
            f"the chain ends at event {report.last_seq} but the anchor of {latest.at} records event {latest.seq}: "
            "events were removed from the end",
        )
    if head is None:
        return broken(
            report.last_seq + 1, "the chain head row is missing: events cannot be appended"
        )
    if (head.seq, head.hash) != (report.last_seq, report.last_hash):
        return broken(
            report.last_seq + 1,
            f"the chain head says event {head.seq} but the chain ends at {report.last_seq}",
        )
    return report


def verify(session: Session, anchors: Sequence[Anchor]) -> Report:
    """Verify the whole chain in ``session``'s database (streamed in batches)."""
    head = session.get(AuditChainHead, HEAD_ID)
    rows = session.scalars(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    )
    return walk(iter(rows), head, anchors)

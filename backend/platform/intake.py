"""The results intake (检查结果接收): photos, records, referrals (抄告/移送) and a lead's
reassignments from the backend, each message idempotent by its ``Idempotency-Key``.

The contract (docs/platform-api.md):

* The platform keeps every accepted message, and the answer it gave, under its key.
* The same key with the same request (its fingerprint: method, path, relevant headers and the
  canonical body) answers the stored answer again, marked replayed, and stores nothing new; the
  same key with another request is ``IdempotencyKeyReused``.
* A refusal stores nothing. A record must name only photos already received (by any key) —
  the backend sends photos first; a referral must name a record already received.
* Lookup, checks and storing happen under one lock, so two identical requests at once store once.

This is an in-memory stand-in: it keeps a photo's digest and size, not its bytes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from backend.clock import Clock

from .errors import (
    DigestMismatch,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    PhotosMissing,
    RecordMissing,
    Refused,
)

SHA256_HEX = r"^[0-9a-f]{64}$"
Ref = Annotated[str, Meta(min_length=1, max_length=200)]
Sha256Hex = Annotated[str, Meta(pattern=SHA256_HEX)]
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MAX_PHOTO_BYTES = 30 * 1024 * 1024


class RecordMessage(Struct, forbid_unknown_fields=True):
    """``POST /api/results/records``: one version of an inspection record (检查记录)."""

    task_ref: Ref
    record_key: Ref
    version: Annotated[int, Meta(ge=1)]
    record: dict[str, Any]
    photos: list[Sha256Hex]


class ReferralMessage(Struct, forbid_unknown_fields=True):
    """``POST /api/results/referrals``: a referral (抄告/移送) arising from a received record."""

    task_ref: Ref
    record_key: Ref
    referral: dict[str, Any]


class AssignmentMessage(Struct, forbid_unknown_fields=True):
    """``POST /api/results/assignments``: a team lead's reassignment of a task (调整检查人员)."""

    task_ref: Ref
    inspector_subjects: Annotated[list[Ref], Meta(min_length=1, max_length=20)]
    primary_subject: Ref
    reason: Annotated[str, Meta(min_length=1, max_length=500)]
    changed_at: datetime

    def __post_init__(self) -> None:
        if self.primary_subject not in self.inspector_subjects:
            raise ValueError("primary_subject must be one of inspector_subjects")


@dataclass(frozen=True, slots=True)
class PhotoMessage:
    """``POST /api/results/photos``: the image bytes, already checked against ``Repr-Digest``."""

    task_ref: str
    media_type: str
    sha256: str
    size: int


class PhotoReceived(Struct):
    idempotency_key: str
    sha256: str
    task_ref: str
    size: int
    received_at: datetime


class RecordReceived(Struct):
    idempotency_key: str
    record_key: str
    task_ref: str
    version: int
    photos: list[str]
    record: dict[str, Any]
    received_at: datetime


class ReferralReceived(Struct):
    idempotency_key: str
    task_ref: str
    record_key: str
    referral: dict[str, Any]
    received_at: datetime


class AssignmentReceived(Struct):
    idempotency_key: str
    task_ref: str
    inspector_subjects: list[str]
    primary_subject: str
    reason: str
    changed_at: datetime
    received_at: datetime


class Received(Struct):
    """Everything that arrived (``GET /control/received``), for tests to compare."""

    photos: list[PhotoReceived]
    records: list[RecordReceived]
    referrals: list[ReferralReceived]
    attempts: dict[str, int]
    assignments: list[AssignmentReceived]


class Publication(Struct):
    record_key: str
    status: str
    received_at: datetime
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: Answer
    replayed: bool


Message = PhotoMessage | RecordMessage | ReferralMessage | AssignmentMessage


def photo_digest(repr_digest: str | None, body: bytes) -> str:
    """The body's sha256 (hex) once it matches the ``Repr-Digest`` header (RFC 9530)."""
    if not repr_digest:
        raise InvalidRequest("Repr-Digest: sha-256=:<base64>: is required")
    claimed: bytes | None = None
    for member in repr_digest.split(","):
        name, _, value = member.strip().partition("=")
        if name.strip().lower() != "sha-256":
            continue
        value = value.strip()
        if len(value) < 2 or value[0] != ":" or value[-1] != ":":
            raise InvalidRequest("Repr-Digest's sha-256 must be a byte sequence, :<base64>:")
        try:
            claimed = base64.b64decode(value[1:-1], validate=True)
        except ValueError as exc:
            raise InvalidRequest("Repr-Digest's sha-256 is not valid base64") from exc
    if claimed is None or len(claimed) != 32:
        raise InvalidRequest("Repr-Digest must carry a 32-byte sha-256")
    actual = hashlib.sha256(body).digest()
    if claimed != actual:
        raise DigestMismatch("the body's sha-256 differs from Repr-Digest")
    return actual.hex()


def fingerprint(method: str, path: str, *parts: str | bytes) -> str:
    """What makes two requests "the same request" for an idempotency key."""
    digest = hashlib.sha256(f"{method.upper()}\n{path}".encode())
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        digest.update(b"\n" + hashlib.sha256(raw).digest())
    return digest.hexdigest()


def canonical(message: Struct) -> bytes:
    """A decoded JSON message in one spelling (sorted keys), so key order is not a difference."""
    return msgspec.json.encode(message, order="sorted")


@dataclass(frozen=True, slots=True)
class _Accepted:
    fingerprint: str
    answer: Answer


class Intake:
    """The platform's store of received results (in memory: the stand-in starts fresh)."""

    def __init__(self, clock: Clock, publish_delay: timedelta = timedelta(0)) -> None:
        self._clock = clock
        self._publish_delay = publish_delay
        self._lock = asyncio.Lock()
        self._accepted: dict[str, _Accepted] = {}
        self._attempts: Counter[str] = Counter()
        self._photos: list[PhotoReceived] = []
        self._photo_digests: set[str] = set()
        self._records: list[RecordReceived] = []
        self._first_record: dict[str, RecordReceived] = {}
        self._referrals: list[ReferralReceived] = []
        self._assignments: list[AssignmentReceived] = []

    def count_attempt(self, idempotency_key: str) -> None:
        """One more request seen with this key (replays, refusals and faulted ones included)."""
        self._attempts[idempotency_key] += 1

    async def submit(
        self,
        idempotency_key: str,
        request_fingerprint: str,
        message: Message,
        *,
        refused_records: Container[str] = (),
    ) -> Outcome:
        """Store ``message`` under its key and answer 201 — or replay, or refuse (storing nothing)."""
        async with self._lock:
            known = self._accepted.get(idempotency_key)
            if known is not None:
                if known.fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was used for another request; a new message needs a new key"
                    )
                return Outcome(known.answer, replayed=True)
            self._check(message, refused_records)
            answer = self._store(idempotency_key, message, self._clock.now())
            self._accepted[idempotency_key] = _Accepted(request_fingerprint, answer)
            return Outcome(answer, replayed=False)

    def _check(self, message: Message, refused_records: Container[str]) -> None:
        """Refuses a message that what was received so far does not allow."""
        if isinstance(message, RecordMessage):
            if message.record_key in refused_records:
                raise Refused("the platform refuses this record")
            missing = sorted(set(message.photos) - self._photo_digests)
            if missing:
                raise PhotosMissing("send the record's photos first", missing=missing)
        elif isinstance(message, ReferralMessage) and message.record_key not in self._first_record:
            raise RecordMissing("send the record before its referral")

    def _store(self, key: str, message: Message, now: datetime) -> Answer:
        receipt = str(uuid.uuid4())
        if isinstance(message, PhotoMessage):
            self._photos.append(
                PhotoReceived(key, message.sha256, message.task_ref, message.size, now)
            )
            self._photo_digests.add(message.sha256)
            return Answer(
                201, {"receipt": receipt, "sha256": message.sha256, "idempotency_key": key}
            )
        if isinstance(message, RecordMessage):
            record = RecordReceived(
                key,
                message.record_key,
                message.task_ref,
                message.version,
                list(message.photos),
                message.record,
                now,
            )
            self._records.append(record)
            self._first_record.setdefault(message.record_key, record)
            body = {"receipt": receipt, "record_key": message.record_key, "status": "received"}
            return Answer(201, body)
        if isinstance(message, AssignmentMessage):
            self._assignments.append(
                AssignmentReceived(
                    key,
                    message.task_ref,
                    list(message.inspector_subjects),
                    message.primary_subject,
                    message.reason,
                    message.changed_at,
                    now,
                )
            )
            return Answer(201, {"receipt": receipt})
        self._referrals.append(
            ReferralReceived(key, message.task_ref, message.record_key, message.referral, now)
        )
        return Answer(201, {"receipt": receipt})

    def publication(self, record_key: str) -> Publication:
        """Whether a received record is published yet: ``publish_delay`` after it arrived."""
        record = self._first_record.get(record_key)
        if record is None:
            raise NotFound(f"no record {record_key!r} was received")
        published_at = record.received_at + self._publish_delay
        if self._clock.now() >= published_at:
            return Publication(record_key, "published", record.received_at, published_at)
        return Publication(record_key, "received", record.received_at, None)

    def received(self) -> Received:
        return Received(
            list(self._photos),
            list(self._records),
            list(self._referrals),
            dict(self._attempts),
            list(self._assignments),
        )

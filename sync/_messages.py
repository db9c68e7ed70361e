"""The wire: mutations, push and pull messages (msgspec Structs). ``docs/sync-protocol.md`` is normative."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

Kind = Literal["create", "set", "delete", "transition", "resolve_conflict"]
ClientId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
"""A time with its offset (a phone's local time without one is ambiguous)."""
Version = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]

PROTOCOL_VERSION = 1
"""The protocol version this code speaks; the server also accepts the previous one."""
SUPPORTED_PROTOCOLS = frozenset({PROTOCOL_VERSION, PROTOCOL_VERSION - 1}) - {0}


class Mutation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One local change. ``seq`` orders a device's mutations; ``id`` makes its effect happen once."""

    id: uuid.UUID
    client_id: ClientId
    seq: Seq
    hlc: Annotated[str, msgspec.Meta(max_length=90)]
    kind: Kind
    entity: Annotated[str, msgspec.Meta(max_length=32)]
    entity_id: uuid.UUID
    task_id: uuid.UUID
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    """``create``/``set``: field values; ``transition``: ``{"to": status}``;
    ``resolve_conflict``: ``{"conflict_id": …, "note": …}``."""
    base_versions: dict[str, Version] = msgspec.field(default_factory=dict)
    """``set``: the version of each written field that the device had seen."""
    base_version: Version | None = None
    """``delete``: the record's version the device had seen."""


class PushEnvelope(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The push as the API describes it; the server reads each mutation from the raw bytes (``PushRequest``)."""

    protocol_version: int
    app_version: Annotated[str, msgspec.Meta(max_length=32)]
    client_id: ClientId
    mutations: Annotated[list[Any], msgspec.Meta(max_length=500)]
    pending_mutations: Count = 0
    pending_files: Count = 0
    oldest_pending_at: Instant | None = None


class PushRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    protocol_version: int
    app_version: Annotated[str, msgspec.Meta(max_length=32)]
    client_id: ClientId
    mutations: Annotated[list[msgspec.Raw], msgspec.Meta(max_length=500)]
    """Each decoded on its own: one that cannot be decoded is stored as rejected, verbatim."""
    pending_mutations: Count = 0
    pending_files: Count = 0
    oldest_pending_at: Instant | None = None


Outcome = Literal["applied", "conflict", "duplicate", "rejected", "amendment", "skipped"]
"""``conflict``: processed, but a concurrent edit won; a conflict record keeps this one."""


class MutationResult(msgspec.Struct, kw_only=True):
    mutation_id: str | None
    seq: int | None
    outcome: Outcome
    reason_code: str | None = None
    reason: str | None = None
    flags: list[str] = msgspec.field(default_factory=list)
    """``clock_skew``, ``late`` (applied after the task was reassigned away from the user)."""


class PushResponse(msgspec.Struct, kw_only=True):
    server_epoch: str
    last_seq: int
    """The highest of this device's mutation seqs the server has processed."""
    expected_seq: int | None
    """Set when the push stopped at a gap: the seq the server expects next."""
    results: list[MutationResult]


class PullRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    protocol_version: int
    app_version: Annotated[str, msgspec.Meta(max_length=32)]
    client_id: ClientId
    cursor: Version = 0
    until: Version | None = None
    """Set on the second and later pages: the snapshot the first page fixed."""
    origin: Version | None = None
    """Set on the second and later pages: the cursor of the first page (tasks new since then come whole)."""
    limit: Annotated[int, msgspec.Meta(ge=1, le=2000)] = 500
    code_table_versions: Annotated[dict[str, int], msgspec.Meta(max_length=50)] | None = None
    """The code table versions the phone holds; the first page sends every table whose version differs."""

"""The sync protocol's pure core: messages, the hybrid logical clock and the merge rules.

It imports neither a web framework nor a database layer (a test proves it); storage sits
behind the small ``Store`` protocol, implemented in memory by ``ReplicaStore`` and over the
database by the backend. ``docs/sync-protocol.md`` is the contract; ``sync/vectors/`` holds the
cases both this engine and the phone's run.

Errors::

    SyncError
    ├── CanonicalFormError   a value cannot be put in canonical form
    ├── InvalidHlc           a stamp that is not "{ms:015d}.{counter:06d}.{client_id}"
    └── InvalidMutation      a mutation that can never apply (carries a reason code)
"""

from __future__ import annotations

from ._canonical import canonical_digest, canonical_json, check_canonical
from ._engine import DELETED, Device, Engine, Peek, Place, PushOutcome, peek, place
from ._entities import ENTITIES, EntitySpec
from ._errors import CanonicalFormError, InvalidHlc, InvalidMutation, SyncError
from ._hlc import MAX_DRIFT_MS, SERVER_NODE, Hlc, HybridClock, Observed
from ._messages import (
    PROTOCOL_VERSION,
    SUPPORTED_PROTOCOLS,
    Mutation,
    MutationResult,
    PullRequest,
    PushEnvelope,
    PushRequest,
    PushResponse,
)
from ._replica import Pulled, Replica, ReplicaStore, server_record_id
from ._signing import content_hash, is_stale, signed_content
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

__all__ = [
    "DELETED",
    "ENTITIES",
    "MAX_DRIFT_MS",
    "PROTOCOL_VERSION",
    "SERVER_NODE",
    "SUPPORTED_PROTOCOLS",
    "Amendment",
    "CanonicalFormError",
    "Conflict",
    "Device",
    "Engine",
    "EntitySpec",
    "Hlc",
    "HybridClock",
    "InvalidHlc",
    "InvalidMutation",
    "LogEntry",
    "Mutation",
    "MutationResult",
    "Observed",
    "Peek",
    "Place",
    "PullRequest",
    "Pulled",
    "PushEnvelope",
    "PushOutcome",
    "PushRequest",
    "PushResponse",
    "Record",
    "Register",
    "Rejection",
    "Replica",
    "ReplicaStore",
    "Side",
    "Store",
    "SyncError",
    "TaskState",
    "canonical_digest",
    "canonical_json",
    "check_canonical",
    "content_hash",
    "is_stale",
    "peek",
    "place",
    "server_record_id",
    "signed_content",
]

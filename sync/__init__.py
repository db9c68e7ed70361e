"""The sync protocol's pure core: messages, the hybrid logical clock and the merge rules.

It imports neither a web framework nor a database layer (a test proves it); storage sits
behind a small ``Protocol``. Today it holds the protocol's version number and the
canonical content form (RFC 8785 JSON, no floats) that signatures, the record's QR hash
and the audit chain share; the merge engine comes with the sync issue.

Errors::

    SyncError
    └── CanonicalFormError    a value cannot be put in canonical form
"""

from __future__ import annotations

from ._canonical import canonical_digest, canonical_json
from ._errors import CanonicalFormError, SyncError

PROTOCOL_VERSION = 1
"""The protocol version this code speaks; the server also accepts the previous one."""

__all__ = [
    "PROTOCOL_VERSION",
    "CanonicalFormError",
    "SyncError",
    "canonical_digest",
    "canonical_json",
]

"""The error hierarchy of ``sync``::

    SyncError
    ├── CanonicalFormError   a value cannot be put in canonical form
    ├── InvalidHlc           a stamp that is not "{ms:015d}.{counter:06d}.{client_id}"
    └── InvalidMutation      a mutation that can never apply (carries a reason code)

Invalid mutations are never raised out of a push: the engine turns them into stored
rejections. The exceptions are for callers that validate one mutation on its own.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error raised by ``sync``."""


class CanonicalFormError(SyncError, ValueError):
    """A value cannot be put in canonical form (a float, a non-JSON type, a huge integer)."""


class InvalidHlc(SyncError, ValueError):
    """A hybrid logical clock stamp that is not in the fixed format."""


class InvalidMutation(SyncError, ValueError):
    """A mutation that can never apply; ``code`` is its rejection reason code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

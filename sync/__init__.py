"""The sync protocol's pure core: messages, the hybrid logical clock and the merge rules.

It imports neither a web framework nor a database layer (a test proves it); storage sits
behind a small ``Protocol``. It fills up with the sync issue; today it holds only the
protocol's version numbers, which the backend and the phones both name.

Errors (from the sync issue on)::

    SyncError
    └── ...
"""

from __future__ import annotations

PROTOCOL_VERSION = 1
"""The protocol version this code speaks; the server also accepts the previous one."""

__all__ = ["PROTOCOL_VERSION"]

"""Row ids made many at a time.

``uuid.uuid4()`` asks the kernel for 16 random bytes per id. On the push path that is one
system call per logged mutation, and each one lets another thread take the interpreter lock
(the database connections' threads wait on it), so the event loop then waits to get it back.
One call for the whole batch gives the same ids (version 4, random) at one such pause.
"""

from __future__ import annotations

import os
import uuid


def random_uuids(count: int) -> list[uuid.UUID]:
    """``count`` version-4 UUIDs from one read of the kernel's random source."""
    pool = os.urandom(16 * count)
    return [uuid.UUID(bytes=pool[at : at + 16], version=4) for at in range(0, 16 * count, 16)]

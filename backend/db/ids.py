"""Row ids made many at a time.

``uuid.uuid4()`` asks the kernel for 16 random bytes per id: on the push path, one system
call per logged mutation (py-spy found ``uuid4`` in a tenth of the event loop thread's samples
during pushes, the system call and the interpreter lock it lets go). One call for the whole
batch gives the same kind of ids (version 4, random).
"""

from __future__ import annotations

import os
import uuid


def random_uuids(count: int) -> list[uuid.UUID]:
    """``count`` version-4 UUIDs from one read of the kernel's random source."""
    pool = os.urandom(16 * count)
    return [uuid.UUID(bytes=pool[at : at + 16], version=4) for at in range(0, 16 * count, 16)]

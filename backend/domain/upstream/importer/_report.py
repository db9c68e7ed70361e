"""What a round reports (``ImportReport``), and ``Unresolvable``: a feed task that cannot become
a task here and is kept as a held import."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class ImportReport:
    pages: int = 0
    items: int = 0
    assigned: int = 0
    """New tasks created ``assigned``, and held tasks released by a corrected version."""
    held: int = 0
    held_imports: int = 0
    updated: int = 0
    flagged: int = 0
    withdrawn: int = 0
    ignored: int = 0
    """Versions already taken in (a page read again)."""
    restarted: bool = False
    """The platform refused the stored cursor and the feed was read from the beginning."""
    error: str | None = None
    status: int | None = None
    retry_after: float | None = None
    outcomes: list[tuple[str, int, str]] = field(default_factory=list)
    """``(task_ref, version, outcome)`` of every item applied, in feed order."""


class Unresolvable(Exception):
    """The feed task cannot become a task here; it is kept as a held import with this reason."""

    def __init__(self, reason: str, team_id: uuid.UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.team_id = team_id

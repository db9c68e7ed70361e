"""The task's state machine. The server is authoritative; phones may ask for a few steps.

    assigned → in_progress → submitted → returned ↔ submitted → approved → forwarded → published
    beside them: held (imported but breaking a rule, waiting for a lead), withdrawn (by the
    platform), reopened (a correction after forwarding, forwarded again as a new version)

A phone's field edits apply only while the task is ``EDITABLE``; an edit or a transition
that the current state no longer allows is kept as a late amendment for the lead — neither
refused nor applied.
"""

from __future__ import annotations

ALL = frozenset(
    {
        "assigned",
        "in_progress",
        "submitted",
        "returned",
        "approved",
        "forwarded",
        "published",
        "held",
        "withdrawn",
        "reopened",
    }
)
EDITABLE = frozenset({"assigned", "in_progress", "returned", "reopened"})

SERVER_TRANSITIONS: dict[str, frozenset[str]] = {
    "held": frozenset({"assigned", "withdrawn"}),
    "assigned": frozenset({"in_progress", "withdrawn"}),
    "in_progress": frozenset({"submitted", "withdrawn"}),
    "submitted": frozenset({"returned", "approved", "withdrawn"}),
    "returned": frozenset({"in_progress", "submitted", "withdrawn"}),
    "approved": frozenset({"forwarded", "returned"}),
    "forwarded": frozenset({"published", "reopened"}),
    "published": frozenset({"reopened"}),
    "reopened": frozenset({"submitted"}),
    "withdrawn": frozenset(),
}
CLIENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "assigned": frozenset({"in_progress"}),
    "in_progress": frozenset({"submitted"}),
    "returned": frozenset({"in_progress", "submitted"}),
    "reopened": frozenset({"submitted"}),
}


def client_may(current: str, to: str) -> bool:
    return to in CLIENT_TRANSITIONS.get(current, frozenset())


def server_may(current: str, to: str) -> bool:
    return to in SERVER_TRANSITIONS.get(current, frozenset())

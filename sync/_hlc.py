"""The hybrid logical clock: ``"{ms:015d}.{counter:06d}.{client_id}"``, compared as strings.

The wall clock is injected. A remote time more than ``MAX_DRIFT_MS`` ahead of the local wall
clock is not trusted: it is clamped for ordering and flagged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ._errors import InvalidHlc

MAX_DRIFT_MS = 10 * 60 * 1000
"""A remote physical time more than 10 minutes ahead of the receiver is clamped."""
SERVER_NODE = "server"
_FORMAT = re.compile(r"([0-9]{15})\.([0-9]{6})\.([A-Za-z0-9_-]{1,64})\Z")
_MAX_COUNTER = 999_999


@dataclass(frozen=True, order=True, slots=True)
class Hlc:
    ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.ms:015d}.{self.counter:06d}.{self.node}"

    @classmethod
    def parse(cls, text: str) -> Hlc:
        match = _FORMAT.match(text)
        if match is None:
            raise InvalidHlc(f"not an HLC: {text[:80]!r}")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))


@dataclass(frozen=True, slots=True)
class Observed:
    """What the receiver makes of a remote stamp: the stamp used for ordering, and whether it was clamped."""

    effective: Hlc
    skewed: bool


class HybridClock:
    """A node's HLC. ``wall`` returns the physical time in milliseconds since the epoch."""

    def __init__(self, wall: Callable[[], int], node: str = SERVER_NODE) -> None:
        self._wall = wall
        self._node = node
        self._last = Hlc(0, 0, node)

    @property
    def last(self) -> Hlc:
        return self._last

    def _advance(self, ms: int, counter: int) -> Hlc:
        if counter > _MAX_COUNTER:
            ms, counter = ms + 1, 0
        self._last = Hlc(ms, counter, self._node)
        return self._last

    def now(self) -> Hlc:
        """A stamp for a local event, greater than every stamp this clock has seen."""
        wall = self._wall()
        if wall > self._last.ms:
            return self._advance(wall, 0)
        return self._advance(self._last.ms, self._last.counter + 1)

    def observe(self, remote: Hlc) -> Observed:
        """Take a remote stamp into account; a stamp too far in the future is clamped and flagged."""
        wall = self._wall()
        limit = wall + MAX_DRIFT_MS
        skewed = remote.ms > limit
        effective = Hlc(limit, remote.counter, remote.node) if skewed else remote
        if effective.ms > self._last.ms or (
            effective.ms == self._last.ms and effective.counter > self._last.counter
        ):
            self._advance(effective.ms, effective.counter)
        return Observed(effective, skewed)

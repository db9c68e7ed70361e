"""Time limits and light thresholds, per plan; the defaults are DOMAIN.md's."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Hours = Annotated[int, msgspec.Meta(ge=1, le=24 * 366)]
Days = Annotated[int, msgspec.Meta(ge=0, le=366)]
WorkingDays = Annotated[int, msgspec.Meta(ge=1, le=366)]


class DeadlineConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A plan's time limits. Every field has the regulations' default; a plan overrides some."""

    entry_window_hours: Hours = 48
    """Results are entered within this many clock hours of the check (and before the plan ends)."""
    entry_yellow_hours: Hours = 24
    """Yellow when this many hours or fewer are left to enter the results."""
    due_yellow_days: Days = 3
    """Yellow when the task is due within this many days and not yet checked."""
    check_in_yellow_hours: Hours = 24
    """Yellow this many hours after check-in with no check-out yet."""
    publication_working_days: WorkingDays = 20
    """Results are published within this many working days of the check."""
    publication_yellow_days: Days = 5
    """Yellow when this many days or fewer are left to publish."""


DEFAULT = DeadlineConfig()


def config_of(overrides: dict[str, Any] | None) -> DeadlineConfig:
    """A plan's configuration: the defaults with its overrides (validated)."""
    if not overrides:
        return DEFAULT
    return msgspec.convert({**msgspec.structs.asdict(DEFAULT), **overrides}, DeadlineConfig)

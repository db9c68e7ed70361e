"""Red / yellow / green (红黄灯预警): a pure function of the deadline instants and "now".

The phone computes the same lights offline from the instants the server sends; both run
the cases in ``light_cases.json``. Which deadline governs depends on how far the task is:

* not yet checked — the due deadline (the end of the due date, at most the plan's end):
  red once it has passed; yellow within ``due_yellow_days`` of it, or ``check_in_yellow_hours``
  after check-in with no check-out; else green;
* checked, results not entered — the entry deadline (48 clock hours after the check, at
  most the plan's end): red once passed, yellow with ``entry_yellow_hours`` or less left;
* results entered, not yet published — the publication deadline (20 working days): red
  once passed, yellow with ``publication_yellow_days`` or less left;
* published or withdrawn — no light.

"Passed" means strictly after: an act at the deadline instant is on time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import msgspec

from .config import DEFAULT, DeadlineConfig

Color = Literal["green", "yellow", "red", "none"]
Phase = Literal["due", "entry", "publication"]
FINISHED = frozenset({"published", "withdrawn"})


class LightFacts(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    due_at: datetime
    entry_deadline_at: datetime | None = None
    publication_deadline_at: datetime | None = None
    checked_in_at: datetime | None = None
    checked_at: datetime | None = None
    results_entered_at: datetime | None = None
    published_at: datetime | None = None


class Light(msgspec.Struct, frozen=True, kw_only=True):
    color: Color
    phase: Phase | None
    deadline_at: datetime | None
    seconds_left: int | None
    """Negative once the deadline has passed."""
    reason: str


def _light(color: Color, phase: Phase, deadline: datetime, now: datetime, reason: str) -> Light:
    return Light(
        color=color,
        phase=phase,
        deadline_at=deadline,
        seconds_left=int((deadline - now).total_seconds()),
        reason=reason,
    )


def light_of(facts: LightFacts, now: datetime, config: DeadlineConfig = DEFAULT) -> Light:
    if now.tzinfo is None:
        raise ValueError("now must be an instant (with an offset)")
    if facts.status in FINISHED or facts.published_at is not None:
        return Light(
            color="none", phase=None, deadline_at=None, seconds_left=None, reason="已公示或已撤回"
        )
    if facts.results_entered_at is None and facts.checked_at is None:
        deadline = facts.due_at
        if now > deadline:
            return _light("red", "due", deadline, now, "已超过任务截止时间仍未完成检查")
        if deadline - now <= timedelta(days=config.due_yellow_days):
            return _light("yellow", "due", deadline, now, f"距截止不足{config.due_yellow_days}天")
        if facts.checked_in_at is not None and now - facts.checked_in_at >= timedelta(
            hours=config.check_in_yellow_hours
        ):
            return _light(
                "yellow",
                "due",
                deadline,
                now,
                f"签到已超过{config.check_in_yellow_hours}小时仍未完成检查",
            )
        return _light("green", "due", deadline, now, "按期进行中")
    if facts.results_entered_at is None:
        deadline = facts.entry_deadline_at or facts.due_at
        if now > deadline:
            return _light(
                "red", "entry", deadline, now, f"检查后{config.entry_window_hours}小时内未录入结果"
            )
        if deadline - now <= timedelta(hours=config.entry_yellow_hours):
            return _light(
                "yellow", "entry", deadline, now, f"录入结果剩余不足{config.entry_yellow_hours}小时"
            )
        return _light("green", "entry", deadline, now, "结果录入时限内")
    deadline = facts.publication_deadline_at or facts.due_at
    if now > deadline:
        return _light(
            "red",
            "publication",
            deadline,
            now,
            f"已超过{config.publication_working_days}个工作日公示时限",
        )
    if deadline - now <= timedelta(days=config.publication_yellow_days):
        return _light(
            "yellow",
            "publication",
            deadline,
            now,
            f"距公示时限不足{config.publication_yellow_days}天",
        )
    return _light("green", "publication", deadline, now, "公示时限内")

"""The light cases (shared with the PWA) run against the pure function."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

import backend.domain.deadlines as package
from backend.domain.deadlines.config import config_of
from backend.domain.deadlines.lights import LightFacts, light_of

CASES: list[dict[str, Any]] = json.loads(
    (Path(package.__file__).parent / "light_cases.json").read_text("utf-8")
)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_light_case(case: dict[str, Any]) -> None:
    facts = msgspec.convert(case["facts"], LightFacts, strict=False)
    light = light_of(
        facts,
        datetime.fromisoformat(case["now"].replace("Z", "+00:00")),
        config_of(case.get("config")),
    )
    assert {"color": light.color, "phase": light.phase} == case["expected"]


def test_there_are_cases_for_every_colour_and_phase() -> None:
    seen = {(c["expected"]["color"], c["expected"]["phase"]) for c in CASES}
    for phase in ("due", "entry", "publication"):
        for color in ("green", "yellow", "red"):
            assert (color, phase) in seen
    assert ("none", None) in seen


def test_a_naive_now_is_refused() -> None:
    facts = LightFacts(
        status="assigned", due_at=datetime.fromisoformat("2026-12-10T00:00:00+08:00")
    )
    with pytest.raises(ValueError, match="offset"):
        light_of(facts, datetime(2026, 12, 1))

"""Every shared vector runs against the pure engine (the PWA runs the same files)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sync.vectors import load_cases, run

CASES = load_cases()


def test_there_are_enough_vectors() -> None:
    assert len(CASES) >= 40
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict[str, Any]) -> None:
    if "server" not in case["applies_to"]:
        pytest.skip("a client-only case")
    run(case)

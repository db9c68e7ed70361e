"""The canonical form: the fast path writes exactly what RFC 8785 (the ``rfc8785`` library) writes."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import canonical_json

# text without lone surrogates (the canonical form refuses them), astral characters included
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
KEYS = st.one_of(
    TEXT,
    st.sampled_from(["a", "b", "\ue000", "\U0001f600", "\uffff", "\U00010000x", "é", ""]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    TEXT,
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(KEYS, inner, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=400, derandomize=True)
@given(VALUES)
def test_canonical_json_is_rfc_8785(value: Any) -> None:
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


def test_keys_where_code_point_and_utf16_orders_differ() -> None:
    value = {"\uffff": 1, "\U0001f600": 2, "a": {"\ue000": 3, "\U00010000": 4}}
    assert canonical_json(value) == bytes(rfc8785.dumps(value))
    assert canonical_json(value).index("\U0001f600".encode()) < canonical_json(value).index(
        "\uffff".encode()
    )

"""Canonical content: RFC 8785 (JCS) JSON with no floats, and its sha256.

One definition for everything that is hashed — what a signature covers, the record's QR
hash and the audit chain — so that the phone and the server always agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785

from ._errors import CanonicalFormError


def _check_text(value: str, path: str) -> None:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CanonicalFormError(f"{path}: text that is not valid Unicode") from exc


def _check(value: Any, path: str) -> None:
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise CanonicalFormError(f"{path}: integer outside the interoperable range")
        return
    if isinstance(value, float):
        raise CanonicalFormError(
            f"{path}: floats are not allowed in canonical content; use a string"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalFormError(f"{path}: object keys must be strings")
            _check_text(key, path)
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, Sequence):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise CanonicalFormError(f"{path}: {type(value).__name__} is not JSON")


def check_canonical(value: Any) -> None:
    """Raise :class:`CanonicalFormError` unless ``value`` has a canonical form (JSON types, no floats)."""
    _check(value, "$")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value`` (JSON types only, no floats)."""
    _check(value, "$")
    return bytes(rfc8785.dumps(value))


def canonical_digest(value: Any) -> str:
    """The lowercase hex sha256 of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(value)).hexdigest()

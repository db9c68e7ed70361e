"""The synced entities, their fields and how each field merges.

* ``server_made`` entities exist from the moment the task is issued (one ``check_item`` per
  checklist point, one ``result`` per task); phones only ``set`` their fields.
* the others are records with client-made ids: ``create`` (idempotent), then ``set`` on their
  fields, and ``delete`` (a tombstone) where ``deletable``.
* ``immutable`` records (photos, signatures, check-ins) never change once created; they can
  only be deleted where allowed.
Every field is a last-writer-wins register (DESIGN §4.1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ._errors import InvalidMutation

Check = Callable[[Any], bool]

_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,32}\Z")
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_EARLIEST, _LATEST = 1900, 2999
"""Instants outside these years are typing errors, not inspections."""
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COORD = re.compile(r"-?[0-9]{1,3}\.[0-9]{6}\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def text(max_length: int, *, optional: bool = True) -> Check:
    def check(v: Any) -> bool:
        if v is None:
            return optional
        return isinstance(v, str) and 0 < len(v) <= max_length and "\x00" not in v

    return check


def pattern(regex: re.Pattern[str], *, optional: bool = True) -> Check:
    def check(v: Any) -> bool:
        if v is None:
            return optional
        return isinstance(v, str) and regex.match(v) is not None

    return check


def instant(*, optional: bool = True) -> Check:
    """An RFC 3339 time with its offset that names a real moment the server can store in UTC."""

    def check(v: Any) -> bool:
        if v is None:
            return optional
        if not isinstance(v, str) or _INSTANT.fullmatch(v) is None:
            return False
        try:
            moment = datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(UTC)
        except (ValueError, OverflowError):  # 2026-02-30, or beyond year 9999 in UTC
            return False
        return _EARLIEST <= moment.year <= _LATEST

    return check


def day(*, optional: bool = True) -> Check:
    """A calendar date (YYYY-MM-DD) that exists."""

    def check(v: Any) -> bool:
        if v is None:
            return optional
        if not isinstance(v, str) or _DATE.fullmatch(v) is None:
            return False
        try:
            date.fromisoformat(v)
        except ValueError:
            return False
        return True

    return check


def one_of(*values: str, optional: bool = True) -> Check:
    def check(v: Any) -> bool:
        return (v is None and optional) or v in values

    return check


def codes(max_items: int = 20) -> Check:
    def check(v: Any) -> bool:
        return (
            isinstance(v, list)
            and len(v) <= max_items
            and all(isinstance(c, str) and _CODE.match(c) for c in v)
            and len(set(v)) == len(v)
        )

    return check


def ids(max_items: int = 50) -> Check:
    def check(v: Any) -> bool:
        return (
            isinstance(v, list)
            and len(v) <= max_items
            and all(isinstance(i, str) and _UUID.match(i) for i in v)
        )

    return check


def optional_bool(v: Any) -> bool:
    return v is None or isinstance(v, bool)


def refusal(v: Any) -> bool:
    return v is None or (
        isinstance(v, dict)
        and set(v) == {"reason", "witness"}
        and text(500, optional=False)(v["reason"])
        and text(64)(v["witness"])
    )


@dataclass(frozen=True, slots=True)
class EntitySpec:
    name: str
    fields: Mapping[str, Check]
    required: frozenset[str] = frozenset()
    server_made: bool = False
    immutable: bool = False
    deletable: bool = True

    def validate(self, values: Mapping[str, Any], *, creating: bool) -> None:
        unknown = values.keys() - self.fields.keys()
        if unknown:
            raise InvalidMutation("invalid", f"{self.name} has no field(s) {sorted(unknown)}")
        for name, value in values.items():
            if not self.fields[name](value):
                raise InvalidMutation(
                    "invalid", f"{self.name}.{name}: value not allowed: {str(value)[:80]!r}"
                )
        if creating and self.required:
            missing = self.required - {k for k, v in values.items() if v is not None}
            if missing:
                raise InvalidMutation("invalid", f"{self.name} needs {sorted(missing)}")


ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in [
        EntitySpec(
            "check_item",
            {"conforms": optional_bool, "problem_text": text(2000)},
            server_made=True,
            deletable=False,
        ),
        EntitySpec(
            "result",
            {
                "categories": codes(),
                "sub_reasons": codes(),
                "verification_methods": codes(),
                "requested_documents": codes(),
                "business_remarks": text(2000),
                "checked_at": instant(),
                "entered_at": instant(),
            },
            server_made=True,
            deletable=False,
        ),
        EntitySpec(
            "finding",
            {
                "check_item_id": pattern(_UUID),
                "text": text(2000, optional=False),
                "photo_ids": ids(),
            },
            required=frozenset({"text"}),
        ),
        EntitySpec(
            "photo",
            {
                "original_digest": pattern(_DIGEST),
                "evidence_digest": pattern(_DIGEST, optional=False),
                "taken_at": instant(),
                "latitude": pattern(_COORD),
                "longitude": pattern(_COORD),
                "check_item_id": pattern(_UUID),
            },
            required=frozenset({"evidence_digest"}),
            immutable=True,
        ),
        EntitySpec(
            "signature",
            {
                "signer": one_of("inspector", "business", optional=False),
                "signer_user_id": pattern(_UUID),
                "signer_name": text(64),
                "image_digest": pattern(_DIGEST),
                "refused": refusal,
                "content_hash": pattern(_DIGEST, optional=False),
                "signed_at": instant(),
            },
            required=frozenset({"signer", "content_hash"}),
            immutable=True,
        ),
        EntitySpec(
            "measure",
            {
                "code": pattern(_CODE, optional=False),
                "text": text(2000),
                "state": one_of("未完结", "已完结"),
                "closing_note": text(2000),
                "closed_on": day(),
            },
            required=frozenset({"code"}),
        ),
        EntitySpec(
            "referral",
            {
                "kind": one_of("抄告", "移送", optional=False),
                "target": text(200, optional=False),
                "findings": text(2000, optional=False),
                "measure_id": pattern(_UUID),
            },
            required=frozenset({"kind", "target", "findings"}),
        ),
        EntitySpec(
            "check_in",
            {
                "at": instant(optional=False),
                "latitude": pattern(_COORD),
                "longitude": pattern(_COORD),
                "accuracy_m": lambda v: (
                    v is None
                    or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100_000)
                ),
                "no_gps_reason": text(500),
                "inspector_id": pattern(_UUID),
            },
            required=frozenset({"at"}),
            immutable=True,
            deletable=False,
        ),
    ]
}

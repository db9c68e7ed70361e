"""What a signature covers, defined once: the phone and the server agree on whether it is stale.

The canonical content of a task's record (RFC 8785, no floats): the task id, the
统一社会信用代码, each item's ``conforms`` and ``problem_text``, the sorted result codes, the
measures, the referrals, the sorted evidence digests and the check-ins. A signature stores
the sha256 of this content when it is made; once the content changes, it is stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ._canonical import canonical_digest
from ._state import Record


def signed_content(task_id: uuid.UUID, uscc: str, records: Iterable[Record]) -> dict[str, Any]:
    live = [r for r in records if not r.deleted and r.task_id == task_id]

    def of(entity: str) -> list[Record]:
        return sorted((r for r in live if r.entity == entity), key=lambda r: str(r.id))

    result = next(iter(of("result")), None)
    return {
        "task_id": str(task_id),
        "uscc": uscc,
        "items": [
            {
                "id": str(r.id),
                "conforms": r.value("conforms"),
                "problem_text": r.value("problem_text"),
            }
            for r in of("check_item")
        ],
        "result_codes": sorted(result.value("categories") or []) if result else [],
        "measures": sorted(
            ({"code": r.value("code"), "text": r.value("text")} for r in of("measure")),
            key=lambda m: (m["code"] or "", m["text"] or ""),
        ),
        "referrals": sorted(
            (
                {
                    "kind": r.value("kind"),
                    "target": r.value("target"),
                    "findings": r.value("findings"),
                }
                for r in of("referral")
            ),
            key=lambda m: (m["kind"] or "", m["target"] or "", m["findings"] or ""),
        ),
        "evidence": sorted(d for r in of("photo") if (d := r.value("evidence_digest"))),
        "check_ins": sorted(
            (
                {
                    "at": r.value("at"),
                    "latitude": r.value("latitude"),
                    "longitude": r.value("longitude"),
                }
                for r in of("check_in")
            ),
            key=lambda c: c["at"] or "",
        ),
    }


def content_hash(task_id: uuid.UUID, uscc: str, records: Iterable[Record]) -> str:
    """The sha256 (hex) of the canonical content a signature of this task covers."""
    return canonical_digest(signed_content(task_id, uscc, records))


def is_stale(signature: Record, current_hash: str) -> bool:
    return bool(signature.value("content_hash") != current_hash)

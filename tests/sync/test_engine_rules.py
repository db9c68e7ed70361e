"""Engine rules that the vectors cannot show (they leave out server-made versions)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from sync import HybridClock, Replica

TASK = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


def _mutation(client: str, seq: int, ms: int, kind: str, rid: uuid.UUID, **extra: object) -> bytes:
    body = {
        "id": str(uuid.uuid4()),
        "client_id": client,
        "seq": seq,
        "hlc": f"{ms:015d}.000000.{client}",
        "kind": kind,
        "entity": "finding",
        "entity_id": str(rid),
        "task_id": str(TASK),
        **extra,
    }
    return msgspec.json.encode(body)


def test_a_record_brought_back_gets_a_new_version_even_when_its_edit_loses() -> None:
    replica = Replica(HybridClock(lambda: 2_000_000_000_000))
    replica.issue_task(TASK, ["u-a", "u-b"])
    replica.register_device("a", "u-a")
    replica.register_device("b", "u-b")
    rid = uuid.uuid4()
    replica.push("a", [_mutation("a", 1, 50, "create", rid, payload={"text": "甲"})])
    created = replica.store.records[("finding", rid)].version
    replica.push("a", [_mutation("a", 2, 60, "delete", rid, base_version=created)])
    tombstone = replica.store.records[("finding", rid)].version
    cursor = replica.pull("b", 0).cursor  # b has seen the tombstone
    replica.push(
        "b",
        [
            _mutation(
                "b", 1, 10, "set", rid, payload={"text": "乙"}, base_versions={"text": created - 1}
            )
        ],
    )
    record = replica.store.records[("finding", rid)]
    assert not record.deleted and record.version > tombstone
    assert [r.id for r in replica.pull("b", cursor).records if r.entity == "finding"] == [rid]


def test_place_reads_id_and_seq_as_peek_does() -> None:
    """The cheap reading that skips replayed mutations agrees with the lenient one."""
    from sync import peek, place

    mid = uuid.uuid4()
    raws = [
        b'{"id": "%s", "seq": 3, "payload": {"seq": 9}}' % str(mid).upper().encode(),
        b'{"id": "%s", "seq": true}' % mid.hex.encode(),
        b'{"id": "not-a-uuid", "seq": 0}',
        b'{"seq": 12345678901234567890, "id": 7}',
        b'{"id": null}',
        b'{"seq": 2, "seq": 5, "id": "a", "id": "b"}',
        b"[1, 2]",
        b'"{\\"id\\": \\"x\\", \\"seq\\": 4}"',
        b'{"id": "x", "seq": 4',
        # text that is not UTF-8 deep inside: the top-level seq still counts, not the first "seq"
        b'{"payload": {"seq": 9, "t": "\xff"}, "id": "%s", "seq": 3}' % str(mid).encode(),
    ]
    for raw in raws:
        known = place(raw)
        lenient = peek(raw)
        if known is None:
            assert not raw.lstrip().startswith(b"{") or not raw.rstrip().endswith(b"}"), raw
        else:
            assert (known.mutation_id, known.position) == (lenient.mutation_id, lenient.seq), raw
    broken = peek(raws[-1])
    assert (broken.mutation_id, broken.seq) == (str(mid), 3)


def test_times_and_dates_must_name_a_real_moment() -> None:
    from sync import ENTITIES

    at = ENTITIES["check_in"].fields["at"]
    assert at("2026-11-30T10:00:00+08:00") and at("2026-11-30T02:00:00.123Z")
    for bad in (
        "2026-02-30T10:00:00+08:00",  # no such day
        "9999-12-31T23:59:59-10:00",  # past year 9999 in UTC
        "0001-01-01T00:00:00+08:00",  # before year 1 in UTC
        "1850-01-01T00:00:00+08:00",  # a typing error, not an inspection
        "2026-11-30T10:00:00+08:00\n",
        "2026-11-30T10:00:00",  # no offset
        "2026-11-30T25:00:00Z",
    ):
        assert not at(bad), bad
    closed_on = ENTITIES["measure"].fields["closed_on"]
    assert closed_on("2026-11-30") and closed_on(None)
    assert not closed_on("2026-02-30") and not closed_on("2026-11-30\n")


def test_the_prescan_reads_what_the_lenient_reading_reads(monkeypatch: Any) -> None:
    """The push's prescan decodes the common case in C; it must name what the lenient path names."""
    import json

    from backend.domain.sync import store

    task, rid, cid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def m(**fields: Any) -> bytes:
        base = {
            "id": str(uuid.uuid4()),
            "seq": 5,
            "task_id": str(task),
            "entity": "finding",
            "entity_id": str(rid),
            "payload": {"conflict_id": str(cid)},
        }
        return json.dumps({**base, **fields}).encode()

    raws = [
        m(),
        m(seq=1),  # at or below last_seq: skipped, names nothing
        m(id=str(uuid.uuid4()).upper(), task_id=task.hex, entity_id="{" + str(rid) + "}"),
        m(task_id="not-a-uuid"),
        m(entity=7),
        m(entity="fin\u0000ding"),
        m(payload=[1, 2]),
        m(seq="6"),
        b"[1]",
        json.dumps(json.dumps({"id": str(uuid.uuid4()), "seq": 9})).encode(),
        b'{"id": "x", "seq": 4',
    ]
    fast = store.prescan(raws, after=2)

    class Never:
        def decode(self, raw: bytes) -> Any:
            raise msgspec.DecodeError("lenient path only")

    monkeypatch.setattr(store, "_NAMES", Never())
    lenient = store.prescan(raws, after=2)
    assert (fast.ids, fast.tasks, fast.records, fast.conflicts, fast.task_of) == (
        lenient.ids,
        lenient.tasks,
        lenient.records,
        lenient.conflicts,
        lenient.task_of,
    )
    assert [p.mutation_id if p else None for p in fast.places] == [
        p.mutation_id if p else None for p in lenient.places
    ]
    assert [p.position if p else None for p in fast.places] == [
        p.position if p else None for p in lenient.places
    ]


def test_a_register_is_stored_as_the_object_it_is_read_back_from() -> None:
    from backend.db.engine import _json_text
    from backend.domain.sync.store import register_from_json
    from sync import Register

    register = Register({"nested": [1, "二"]}, 7, "000001796000000.000001.phone", "phone", "u", "m")
    stored = msgspec.json.decode(_json_text({"conforms": register}))
    assert set(stored["conforms"]) == {
        "value",
        "version",
        "hlc",
        "client_id",
        "user_id",
        "mutation_id",
    }
    assert register_from_json(stored["conforms"]) == register


def _rejected(replica: Replica, client: str, raw: bytes) -> str | None:
    (result,) = replica.push(client, [raw]).results
    return result.reason_code if result.outcome == "rejected" else None


def test_values_with_a_final_newline_or_non_ascii_digits_are_invalid() -> None:
    """Python's ``$`` matches before a final newline and ``\\d`` takes any Unicode digit."""
    replica = Replica(HybridClock(lambda: 2_000_000_000_000))
    replica.issue_task(TASK, ["u-a"])
    replica.register_device("a", "u-a")
    photo = {"evidence_digest": "a" * 64}
    cases = [
        {**photo, "evidence_digest": "a" * 64 + "\n"},
        {**photo, "latitude": "25.951774\n"},
        {**photo, "latitude": "٢٥.٩٥١٧٧٤"},  # Arabic-Indic digits
        {**photo, "check_item_id": str(uuid.uuid4()) + "\n"},
    ]
    for seq, payload in enumerate(cases, start=1):
        raw = _mutation("a", seq, 50 + seq, "create", uuid.uuid4(), payload=payload)
        raw = raw.replace(b'"entity":"finding"', b'"entity":"photo"')
        assert _rejected(replica, "a", raw) == "invalid", payload
    hlc_with_newline = _mutation("a", 5, 60, "create", uuid.uuid4(), payload={"text": "x"})
    hlc_with_newline = hlc_with_newline.replace(b'.a","kind"', b'.a\\n","kind"')
    assert b"\\n" in hlc_with_newline
    assert _rejected(replica, "a", hlc_with_newline) == "invalid"


def test_a_transition_to_something_that_is_not_a_status_is_invalid_not_a_crash() -> None:
    replica = Replica(HybridClock(lambda: 2_000_000_000_000))
    replica.issue_task(TASK, ["u-a"])
    replica.register_device("a", "u-a")
    for seq, to in enumerate([[], {}, 3, None], start=1):
        raw = _mutation("a", seq, 50 + seq, "transition", TASK, payload={"to": to})
        assert _rejected(replica, "a", raw) == "invalid", to

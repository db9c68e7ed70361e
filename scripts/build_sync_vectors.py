"""Write sync/vectors/*.json: the shared cases of the merge rules (DESIGN §4.1).

Each case's expectations are written here by hand from the rules — never computed by the
engine — so the engine (pytest) and the phone (Vitest) are both checked against them. Run
``python scripts/build_sync_vectors.py`` after changing a case; the JSON files are committed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import rfc8785

OUT = Path(__file__).resolve().parent.parent / "sync" / "vectors"
NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:zsjg:sync")
SERVER_MS = 1_764_460_900_000  # the server's wall clock in every case
T0 = 1_764_460_000_000


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.vectors.zsjg"))


def server_id(task: str, entity: str, key: str = "") -> str:
    return str(uuid.uuid5(NS, f"{uid(task)}/{entity}/{key}"))


def hlc(ms_offset: int, client: str, counter: int = 0) -> str:
    return f"{T0 + ms_offset:015d}.{counter:06d}.{client}"


USCC = "91360731MA35XY0128"
DEVICES = [{"client_id": "dev-a", "user_id": uid("user-a")}, {"client_id": "dev-b", "user_id": uid("user-b")},
           {"client_id": "dev-c", "user_id": uid("user-c")}]
ITEM = server_id("t1", "check_item", "p1")
ITEM2 = server_id("t1", "check_item", "p2")
RESULT = server_id("t1", "result")


def task(status: str = "in_progress", assignees: tuple[str, ...] = ("user-a", "user-b"), past: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": uid("t1"), "status": status, "assignees": [uid(a) for a in assignees],
            "past_assignees": [uid(p) for p in past], "uscc": USCC}


def empty_records(version: int = 1) -> list[dict[str, Any]]:
    return [
        {"entity": "check_item", "id": ITEM, "task_id": uid("t1"), "fields": {}, "version": version, "deleted": False},
        {"entity": "check_item", "id": ITEM2, "task_id": uid("t1"), "fields": {}, "version": version, "deleted": False},
        {"entity": "result", "id": RESULT, "task_id": uid("t1"), "fields": {}, "version": version, "deleted": False},
    ]


def reg(value: Any, version: int, stamp: str, client: str, mutation: str | None = None) -> dict[str, Any]:
    return {"value": value, "version": version, "hlc": stamp, "client_id": client,
            "user_id": uid("user-" + client[-1]), "mutation_id": uid(mutation) if mutation else None}


class M:
    """A mutation under construction."""

    def __init__(self, name: str, client: str, seq: int, kind: str, entity: str, entity_id: str, *,
                 at: int = 0, payload: dict[str, Any] | None = None, base: dict[str, int] | None = None,
                 base_version: int | None = None, task_id: str | None = None, stamp: str | None = None) -> None:
        self.name = name
        self.body: dict[str, Any] = {
            "id": uid(name), "client_id": client, "seq": seq, "hlc": stamp or hlc(at, client), "kind": kind,
            "entity": entity, "entity_id": entity_id, "task_id": task_id or uid("t1"), "payload": payload or {},
        }
        if base is not None:
            self.body["base_versions"] = base
        if base_version is not None:
            self.body["base_version"] = base_version


CASES: list[dict[str, Any]] = []


def case(name: str, description: str, steps: list[Any], expected: dict[str, Any], *, initial_records: list[dict[str, Any]] | None = None,
         the_task: dict[str, Any] | None = None, seq: int = 1, applies_to: tuple[str, ...] = ("server", "client")) -> None:
    rendered = []
    for step in steps:
        if isinstance(step, tuple) and step[0] == "push":
            _, client, mutations = step
            rendered.append({"push": client, "mutations": [m if isinstance(m, str) else m.body for m in mutations]})
        else:
            rendered.append(step)
    ex = dict(expected)
    if "outcomes" in ex:
        ex["outcomes"] = {uid(k): v for k, v in ex["outcomes"].items()}
    if "rejections" in ex:
        ex["rejections"] = [{"mutation_id": uid(m) if m else None, "reason_code": c} for m, c in ex["rejections"]]
    if "amendments" in ex:
        ex["amendments"] = [uid(m) for m in ex["amendments"]]
    CASES.append({
        "name": name, "description": description, "applies_to": list(applies_to), "server_time_ms": SERVER_MS,
        "initial": {"seq": seq, "devices": DEVICES, "tasks": [the_task or task()],
                    "records": initial_records if initial_records is not None else empty_records()},
        "steps": rendered, "expected": ex,
    })


def set_item(name: str, client: str, seq: int, at: int, value: Any, base: int, field: str = "conforms", entity_id: str = ITEM) -> M:
    return M(name, client, seq, "set", "check_item", entity_id, at=at, payload={field: value}, base={field: base})


def finding(name: str, client: str, seq: int, at: int, text: str, fid: str | None = None) -> M:
    return M(name, client, seq, "create", "finding", fid or uid("f-" + name), at=at, payload={"text": text})


def conflict(entity: str, entity_id: str, field: str, winner: tuple[Any, str, str, str], loser: tuple[Any, str, str, str],
             status: str = "open") -> dict[str, Any]:
    def side(s: tuple[Any, str, str, str]) -> dict[str, Any]:
        value, stamp, client, mutation = s
        return {"value": value, "hlc": stamp, "client_id": client, "mutation_id": uid(mutation)}

    return {"entity": entity, "entity_id": entity_id, "field": field, "winner": side(winner), "loser": side(loser), "status": status}


def rec(entity: str, rid: str, fields: dict[str, tuple[Any, str, str]], deleted: bool = False) -> dict[str, Any]:
    return {"entity": entity, "id": rid, "deleted": deleted,
            "fields": {k: {"value": v, "hlc": h, "client_id": c} for k, (v, h, c) in fields.items()}}


def digest(value: Any) -> str:
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


# ---- A. records with client-made ids --------------------------------------------------
m = finding("a1", "dev-a", 1, 10, "灭火器过期")
case("create-finding", "A create inserts a record with the client's id.", [("push", "dev-a", [m])],
     {"outcomes": {"a1": "applied"}, "records": [rec("finding", uid("f-a1"), {"text": ("灭火器过期", hlc(10, "dev-a"), "dev-a")})],
      "last_seq": {"dev-a": 1}, "rejections": [], "conflicts": []})
m = finding("a2", "dev-a", 1, 10, "台账缺失")
case("create-replayed", "The same mutation pushed twice has one effect; the replay is skipped (its seq was processed).",
     [("push", "dev-a", [m]), ("push", "dev-a", [m])],
     {"outcomes": {"a2": "applied"}, "push_outcomes": [["applied"], ["skipped"]], "last_seq": {"dev-a": 1},
      "records": [rec("finding", uid("f-a2"), {"text": ("台账缺失", hlc(10, "dev-a"), "dev-a")})], "conflicts": [], "rejections": []})
case("create-two-devices", "Two devices create their own records; ids never collide, both land.",
     [("push", "dev-a", [finding("a3", "dev-a", 1, 10, "甲")]), ("push", "dev-b", [finding("b3", "dev-b", 1, 5, "乙")])],
     {"outcomes": {"a3": "applied", "b3": "applied"}, "conflicts": [], "rejections": [],
      "records": [rec("finding", uid("f-a3"), {"text": ("甲", hlc(10, "dev-a"), "dev-a")}),
                  rec("finding", uid("f-b3"), {"text": ("乙", hlc(5, "dev-b"), "dev-b")})]})
case("create-id-taken", "A create whose id exists already (made by another mutation) is rejected, not merged.",
     [("push", "dev-a", [finding("a4", "dev-a", 1, 10, "甲", uid("shared"))]),
      ("push", "dev-b", [finding("b4", "dev-b", 1, 20, "乙", uid("shared"))])],
     {"outcomes": {"a4": "applied", "b4": "rejected"}, "rejections": [("b4", "id_taken")], "conflicts": [],
      "records": [rec("finding", uid("shared"), {"text": ("甲", hlc(10, "dev-a"), "dev-a")})]})
case("create-server-made", "check_item records are made by the server; a create of one is invalid.",
     [("push", "dev-a", [M("a5", "dev-a", 1, "create", "check_item", uid("x5"), at=1, payload={"conforms": True})])],
     {"outcomes": {"a5": "rejected"}, "rejections": [("a5", "invalid")], "last_seq": {"dev-a": 1}})
case("create-missing-required", "A photo without its evidence digest is invalid.",
     [("push", "dev-a", [M("a6", "dev-a", 1, "create", "photo", uid("p6"), at=1, payload={"taken_at": "2026-11-30T10:00:00+08:00"})])],
     {"outcomes": {"a6": "rejected"}, "rejections": [("a6", "invalid")]})
case("create-unknown-field", "A field the entity does not have is invalid.",
     [("push", "dev-a", [M("a7", "dev-a", 1, "create", "finding", uid("f7"), at=1, payload={"text": "x", "colour": "red"})])],
     {"outcomes": {"a7": "rejected"}, "rejections": [("a7", "invalid")]})
case("create-unknown-entity", "An entity that is not registered is rejected.",
     [("push", "dev-a", [M("a8", "dev-a", 1, "create", "gossip", uid("g8"), at=1, payload={"text": "x"})])],
     {"outcomes": {"a8": "rejected"}, "rejections": [("a8", "unknown_entity")]})
photo = M("a9", "dev-a", 1, "create", "photo", uid("p9"), at=1, payload={"evidence_digest": "a" * 64, "original_digest": "b" * 64,
          "taken_at": "2026-11-30T10:00:00+08:00", "latitude": "25.951234", "longitude": "115.412345"})
case("create-photo", "A photo names its evidence and original digests and its EXIF time and place (strings).",
     [("push", "dev-a", [photo])],
     {"outcomes": {"a9": "applied"}, "records": [rec("photo", uid("p9"), {
         "evidence_digest": ("a" * 64, hlc(1, "dev-a"), "dev-a"), "original_digest": ("b" * 64, hlc(1, "dev-a"), "dev-a"),
         "taken_at": ("2026-11-30T10:00:00+08:00", hlc(1, "dev-a"), "dev-a"), "latitude": ("25.951234", hlc(1, "dev-a"), "dev-a"),
         "longitude": ("115.412345", hlc(1, "dev-a"), "dev-a")})]})
case("create-photo-float-coordinate", "Coordinates are strings with six decimals; a number is invalid.",
     [("push", "dev-a", [M("a10", "dev-a", 1, "create", "photo", uid("p10"), at=1, payload={"evidence_digest": "a" * 64, "latitude": 25.95})])],
     {"outcomes": {"a10": "rejected"}, "rejections": [("a10", "invalid")]})

# ---- B. last-writer-wins registers ----------------------------------------------------
case("set-current-base", "A set whose base is the current version applies.",
     [("push", "dev-a", [set_item("b1", "dev-a", 1, 10, True, 1)])],
     {"outcomes": {"b1": "applied"}, "conflicts": [], "records": [rec("check_item", ITEM, {"conforms": (True, hlc(10, "dev-a"), "dev-a")})]})
case("set-concurrent-later-wins", "Two devices edit one field from the same base; the greater HLC wins and a conflict keeps both.",
     [("push", "dev-a", [set_item("b2a", "dev-a", 1, 10, True, 1)]), ("push", "dev-b", [set_item("b2b", "dev-b", 1, 20, False, 1)])],
     {"outcomes": {"b2a": "applied", "b2b": "applied"},
      "records": [rec("check_item", ITEM, {"conforms": (False, hlc(20, "dev-b"), "dev-b")})],
      "conflicts": [conflict("check_item", ITEM, "conforms", (False, hlc(20, "dev-b"), "dev-b", "b2b"), (True, hlc(10, "dev-a"), "dev-a", "b2a"))]})
case("set-concurrent-earlier-loses", "The later arrival has the smaller HLC: the current value stays, the conflict keeps the loser.",
     [("push", "dev-b", [set_item("b3b", "dev-b", 1, 20, False, 1)]), ("push", "dev-a", [set_item("b3a", "dev-a", 1, 10, True, 1)])],
     {"outcomes": {"b3b": "applied", "b3a": "conflict"},
      "records": [rec("check_item", ITEM, {"conforms": (False, hlc(20, "dev-b"), "dev-b")})],
      "conflicts": [conflict("check_item", ITEM, "conforms", (False, hlc(20, "dev-b"), "dev-b", "b3b"), (True, hlc(10, "dev-a"), "dev-a", "b3a"))]})
case("set-equal-values-merge", "Concurrent equal values merge silently; the field keeps the greater HLC.",
     [("push", "dev-a", [set_item("b4a", "dev-a", 1, 30, True, 1)]), ("push", "dev-b", [set_item("b4b", "dev-b", 1, 20, True, 1)])],
     {"outcomes": {"b4a": "applied", "b4b": "applied"}, "conflicts": [],
      "records": [rec("check_item", ITEM, {"conforms": (True, hlc(30, "dev-a"), "dev-a")})]})
case("set-equal-values-newer-stamp", "Equal values from a later writer: still no conflict; the greater HLC is kept.",
     [("push", "dev-a", [set_item("b5a", "dev-a", 1, 10, True, 1)]), ("push", "dev-b", [set_item("b5b", "dev-b", 1, 20, True, 1)])],
     {"outcomes": {"b5a": "applied", "b5b": "applied"}, "conflicts": [],
      "records": [rec("check_item", ITEM, {"conforms": (True, hlc(20, "dev-b"), "dev-b")})]})
case("set-own-edits-never-conflict", "A device's later edit with a base that predates its own earlier edit is not a conflict.",
     [("push", "dev-a", [set_item("b6a", "dev-a", 1, 10, True, 1), set_item("b6b", "dev-a", 2, 20, False, 1)])],
     {"outcomes": {"b6a": "applied", "b6b": "applied"}, "conflicts": [],
      "records": [rec("check_item", ITEM, {"conforms": (False, hlc(20, "dev-a"), "dev-a")})], "last_seq": {"dev-a": 2}})
case("set-different-fields", "Concurrent edits of different fields of one record both apply.",
     [("push", "dev-a", [set_item("b7a", "dev-a", 1, 10, False, 1)]),
      ("push", "dev-b", [set_item("b7b", "dev-b", 1, 20, "灭火器压力不足", 1, field="problem_text")])],
     {"outcomes": {"b7a": "applied", "b7b": "applied"}, "conflicts": [],
      "records": [rec("check_item", ITEM, {"conforms": (False, hlc(10, "dev-a"), "dev-a"),
                                            "problem_text": ("灭火器压力不足", hlc(20, "dev-b"), "dev-b")})]})
case("set-after-seeing-the-other", "A device that saw the other's write (base is its version) overwrites without conflict.",
     [("push", "dev-a", [set_item("b8a", "dev-a", 1, 10, True, 1)]), ("push", "dev-b", [set_item("b8b", "dev-b", 1, 5, False, 2)])],
     {"outcomes": {"b8a": "applied", "b8b": "applied"}, "conflicts": [],
      "records": [rec("check_item", ITEM, {"conforms": (False, hlc(5, "dev-b"), "dev-b")})]})
case("set-immutable", "Photos never change once created: a set is rejected.",
     [("push", "dev-a", [photo]), ("push", "dev-a", [M("b9", "dev-a", 2, "set", "photo", uid("p9"), at=5, payload={"latitude": "25.000000"}, base={"latitude": 2})])],
     {"outcomes": {"a9": "applied", "b9": "rejected"}, "rejections": [("b9", "immutable")]})
case("set-unknown-record", "A set on a record that does not exist is rejected.",
     [("push", "dev-a", [M("b10", "dev-a", 1, "set", "finding", uid("nope"), at=5, payload={"text": "x"}, base={"text": 0})])],
     {"outcomes": {"b10": "rejected"}, "rejections": [("b10", "unknown_record")]})
case("set-invalid-value", "是否符合 is true, false or null; anything else is invalid.",
     [("push", "dev-a", [set_item("b11", "dev-a", 1, 5, "yes", 1)])],
     {"outcomes": {"b11": "rejected"}, "rejections": [("b11", "invalid")]})
case("set-text-too-long", "A problem text over 2000 characters is invalid.",
     [("push", "dev-a", [set_item("b12", "dev-a", 1, 5, "长" * 2001, 1, field="problem_text")])],
     {"outcomes": {"b12": "rejected"}, "rejections": [("b12", "invalid")]})
case("set-three-devices", "Three concurrent writers: the greatest HLC wins; each loser has its conflict record.",
     [("push", "dev-a", [set_item("b13a", "dev-a", 1, 10, "甲", 1, field="problem_text")]),
      ("push", "dev-b", [set_item("b13b", "dev-b", 1, 30, "乙", 1, field="problem_text")]),
      ("push", "dev-c", [set_item("b13c", "dev-c", 1, 20, "丙", 1, field="problem_text")])],
     {"outcomes": {"b13a": "applied", "b13b": "applied", "b13c": "conflict"},
      "records": [rec("check_item", ITEM, {"problem_text": ("乙", hlc(30, "dev-b"), "dev-b")})],
      "conflicts": [conflict("check_item", ITEM, "problem_text", ("乙", hlc(30, "dev-b"), "dev-b", "b13b"), ("甲", hlc(10, "dev-a"), "dev-a", "b13a")),
                    conflict("check_item", ITEM, "problem_text", ("乙", hlc(30, "dev-b"), "dev-b", "b13b"), ("丙", hlc(20, "dev-c"), "dev-c", "b13c"))]},
     the_task=task(assignees=("user-a", "user-b", "user-c")))

# ---- C. deletes and tombstones --------------------------------------------------------
fa = finding("c0", "dev-a", 1, 10, "原文")
case("delete-current", "A delete that saw the current version leaves a tombstone.",
     [("push", "dev-a", [fa]), ("push", "dev-b", [M("c1", "dev-b", 1, "delete", "finding", uid("f-c0"), at=20, base_version=2)])],
     {"outcomes": {"c0": "applied", "c1": "applied"}, "conflicts": [],
      "records": [rec("finding", uid("f-c0"), {"text": ("原文", hlc(10, "dev-a"), "dev-a")}, deleted=True)]})
case("delete-loses-to-concurrent-edit", "A delete that had not seen another device's edit is not applied; the edit wins with a conflict on _deleted.",
     [("push", "dev-a", [fa]),
      ("push", "dev-a", [M("c2e", "dev-a", 2, "set", "finding", uid("f-c0"), at=30, payload={"text": "改写"}, base={"text": 2})]),
      ("push", "dev-b", [M("c2d", "dev-b", 1, "delete", "finding", uid("f-c0"), at=40, base_version=2)])],
     {"outcomes": {"c0": "applied", "c2e": "applied", "c2d": "conflict"},
      "records": [rec("finding", uid("f-c0"), {"text": ("改写", hlc(30, "dev-a"), "dev-a")})],
      "conflicts": [conflict("finding", uid("f-c0"), "_deleted", (False, hlc(30, "dev-a"), "dev-a", "c2e"), (True, hlc(40, "dev-b"), "dev-b", "c2d"))]})
case("edit-brings-back-deleted", "An edit from another device that had not seen the delete brings the record back, with a conflict.",
     [("push", "dev-a", [fa]),
      ("push", "dev-a", [M("c3d", "dev-a", 2, "delete", "finding", uid("f-c0"), at=20, base_version=2)]),
      ("push", "dev-b", [M("c3e", "dev-b", 1, "set", "finding", uid("f-c0"), at=30, payload={"text": "补充"}, base={"text": 2})])],
     {"outcomes": {"c0": "applied", "c3d": "applied", "c3e": "applied"},
      "records": [rec("finding", uid("f-c0"), {"text": ("补充", hlc(30, "dev-b"), "dev-b")})],
      "conflicts": [conflict("finding", uid("f-c0"), "_deleted", (False, hlc(30, "dev-b"), "dev-b", "c3e"), (True, hlc(20, "dev-a"), "dev-a", "c3d"))]})
case("edit-after-seeing-delete", "An edit whose base is the tombstone's version saw the delete: rejected.",
     [("push", "dev-a", [fa]),
      ("push", "dev-a", [M("c4d", "dev-a", 2, "delete", "finding", uid("f-c0"), at=20, base_version=2)]),
      ("push", "dev-b", [M("c4e", "dev-b", 1, "set", "finding", uid("f-c0"), at=30, payload={"text": "补充"}, base={"text": 3})])],
     {"outcomes": {"c0": "applied", "c4d": "applied", "c4e": "rejected"}, "rejections": [("c4e", "deleted")],
      "records": [rec("finding", uid("f-c0"), {"text": ("原文", hlc(10, "dev-a"), "dev-a")}, deleted=True)]})
case("delete-not-deletable", "Checklist items cannot be deleted.",
     [("push", "dev-a", [M("c5", "dev-a", 1, "delete", "check_item", ITEM, at=5, base_version=1)])],
     {"outcomes": {"c5": "rejected"}, "rejections": [("c5", "not_deletable")]})
case("delete-twice", "Deleting a tombstone again changes nothing.",
     [("push", "dev-a", [fa, M("c6a", "dev-a", 2, "delete", "finding", uid("f-c0"), at=20, base_version=2)]),
      ("push", "dev-b", [M("c6b", "dev-b", 1, "delete", "finding", uid("f-c0"), at=30, base_version=2)])],
     {"outcomes": {"c0": "applied", "c6a": "applied", "c6b": "applied"}, "conflicts": [],
      "records": [rec("finding", uid("f-c0"), {"text": ("原文", hlc(10, "dev-a"), "dev-a")}, deleted=True)]})
case("delete-own-edit-stale-base", "A device deleting a record it last wrote itself is not a conflict, whatever its base.",
     [("push", "dev-a", [fa, M("c7e", "dev-a", 2, "set", "finding", uid("f-c0"), at=20, payload={"text": "二"}, base={"text": 2}),
                         M("c7d", "dev-a", 3, "delete", "finding", uid("f-c0"), at=30, base_version=2)])],
     {"outcomes": {"c0": "applied", "c7e": "applied", "c7d": "applied"}, "conflicts": [],
      "records": [rec("finding", uid("f-c0"), {"text": ("二", hlc(20, "dev-a"), "dev-a")}, deleted=True)]})

case("delete-loses-to-an-unseen-edit-before-own-edit",
     "A delete loses to another device's edit it had not seen, even when the deleter wrote the record again afterwards.",
     [("push", "dev-a", [fa]),
      ("push", "dev-b", [M("c8b", "dev-b", 1, "set", "finding", uid("f-c0"), at=20, payload={"text": "乙改"}, base={"text": 2})]),
      ("push", "dev-a", [M("c8e", "dev-a", 2, "set", "finding", uid("f-c0"), at=30, payload={"photo_ids": []}, base={"photo_ids": 2}),
                         M("c8d", "dev-a", 3, "delete", "finding", uid("f-c0"), at=40, base_version=2)])],
     {"outcomes": {"c0": "applied", "c8b": "applied", "c8e": "applied", "c8d": "conflict"},
      "records": [rec("finding", uid("f-c0"), {"text": ("乙改", hlc(20, "dev-b"), "dev-b"), "photo_ids": ([], hlc(30, "dev-a"), "dev-a")})],
      "conflicts": [conflict("finding", uid("f-c0"), "_deleted", (False, hlc(20, "dev-b"), "dev-b", "c8b"), (True, hlc(40, "dev-a"), "dev-a", "c8d"))]})
case("brought-back-even-when-its-edit-loses",
     "An edit that had not seen the delete brings the record back even when its own value loses to a later stamp.",
     [("push", "dev-a", [M("c9c", "dev-a", 1, "create", "finding", uid("f-c9"), at=50, payload={"text": "甲"}),
                         M("c9d", "dev-a", 2, "delete", "finding", uid("f-c9"), at=60, base_version=2)]),
      ("push", "dev-b", [M("c9e", "dev-b", 1, "set", "finding", uid("f-c9"), at=10, payload={"text": "乙"}, base={"text": 1})])],
     {"outcomes": {"c9c": "applied", "c9d": "applied", "c9e": "conflict"},
      "records": [rec("finding", uid("f-c9"), {"text": ("甲", hlc(50, "dev-a"), "dev-a")}, deleted=False)],
      "conflicts": [conflict("finding", uid("f-c9"), "_deleted", (False, hlc(10, "dev-b"), "dev-b", "c9e"), (True, hlc(60, "dev-a"), "dev-a", "c9d")),
                    conflict("finding", uid("f-c9"), "text", ("甲", hlc(50, "dev-a"), "dev-a", "c9c"), ("乙", hlc(10, "dev-b"), "dev-b", "c9e"))]})

# ---- D. order and idempotency ---------------------------------------------------------
case("gap-stops-the-push", "A seq gap stops the push; the server answers the seq it expects and applies nothing after the gap.",
     [("push", "dev-a", [finding("d1a", "dev-a", 1, 1, "一"), finding("d1c", "dev-a", 3, 3, "三")])],
     {"outcomes": {"d1a": "applied"}, "push_outcomes": [["applied"]], "expected_seq": [2], "last_seq": {"dev-a": 1}})
m2 = finding("d8", "dev-a", 2, 2, "换了序号的重发")
m2.body["id"] = uid("d8-first")
case("same-id-new-seq-is-a-duplicate", "A mutation id seen before, sent again under a new seq, has no second effect.",
     [("push", "dev-a", [finding("d8-first", "dev-a", 1, 1, "原始")]), ("push", "dev-a", [m2])],
     {"outcomes": {"d8-first": "applied"}, "push_outcomes": [["applied"], ["duplicate"]], "last_seq": {"dev-a": 2}})
case("already-processed-seq", "A mutation whose seq is at or below last_seq (but with a new id) is skipped.",
     [("push", "dev-a", [finding("d2a", "dev-a", 1, 1, "一")]), ("push", "dev-a", [finding("d2b", "dev-a", 1, 2, "又一")])],
     {"outcomes": {"d2a": "applied"}, "push_outcomes": [["applied"], ["skipped"]], "last_seq": {"dev-a": 1}})
case("undecodable-in-the-middle", "One mutation that cannot be decoded is stored as rejected, verbatim; the batch goes on.",
     [("push", "dev-a", [finding("d3a", "dev-a", 1, 1, "一"), '{"id": "' + uid("d3b") + '", "seq": 2, "kind": "create", "oops": ',
                         finding("d3c", "dev-a", 3, 3, "三")])],
     {"outcomes": {"d3a": "applied", "d3b": "rejected", "d3c": "applied"}, "rejections": [("d3b", "invalid")],
      "push_outcomes": [["applied", "rejected", "applied"]], "last_seq": {"dev-a": 3}})
case("foreign-client-id", "A device pushes only its own mutations: another device's client_id is unauthorized.",
     [("push", "dev-a", [finding("d4", "dev-b", 1, 1, "冒充")])],
     {"outcomes": {"d4": "rejected"}, "rejections": [("d4", "unauthorized")], "last_seq": {"dev-a": 1}})
bad = M("d5", "dev-a", 1, "create", "finding", uid("f-d5"), payload={"text": "x"}, stamp="yesterday")
case("invalid-hlc", "An HLC not in the fixed format is invalid.", [("push", "dev-a", [bad])],
     {"outcomes": {"d5": "rejected"}, "rejections": [("d5", "invalid")]})
bad = M("d6", "dev-a", 1, "create", "finding", uid("f-d6"), payload={"text": "x"}, stamp=hlc(1, "dev-b"))
case("hlc-of-another-node", "The HLC's node must be the mutation's client id.", [("push", "dev-a", [bad])],
     {"outcomes": {"d6": "rejected"}, "rejections": [("d6", "invalid")]})
case("mutations-apply-in-seq-order", "A device's mutations apply in the order they were made, even when its clock went back.",
     [("push", "dev-a", [set_item("d7a", "dev-a", 1, 50, True, 1), set_item("d7b", "dev-a", 2, 40, False, 1)])],
     {"outcomes": {"d7a": "applied", "d7b": "applied"}, "conflicts": [],
      "records": [rec("check_item", ITEM, {"conforms": (False, hlc(40, "dev-a"), "dev-a")})]})

stolen = finding("d9-mine", "dev-a", 1, 5, "真的记录")
copy = finding("d9-copy", "dev-b", 1, 1, "冒用编号")
copy.body["id"] = uid("d9-mine")
case("ids-are-per-device", "Another device using my mutation id does not cancel my mutation: ids are de-duplicated per device.",
     [("push", "dev-b", [copy]), ("push", "dev-a", [stolen])],
     {"push_outcomes": [["applied"], ["applied"]], "last_seq": {"dev-a": 1, "dev-b": 1},
      "records": [rec("finding", uid("f-d9-mine"), {"text": ("真的记录", hlc(5, "dev-a"), "dev-a")})]})
twice = json.dumps(json.dumps(finding("d10b", "dev-a", 2, 2, "编码了两次").body))
case("encoded-twice-keeps-its-place", "A mutation sent as a JSON string is rejected, keeps its place, and the next one applies.",
     [("push", "dev-a", [finding("d10a", "dev-a", 1, 1, "一"), twice, finding("d10c", "dev-a", 3, 3, "三")])],
     {"push_outcomes": [["applied", "rejected", "applied"]], "rejections": [("d10b", "invalid")], "last_seq": {"dev-a": 3}})

# ---- E. who may push what -------------------------------------------------------------
case("unknown-task", "A mutation for a task the server does not know is rejected.",
     [("push", "dev-a", [M("e1", "dev-a", 1, "create", "finding", uid("f-e1"), at=1, payload={"text": "x"}, task_id=uid("t-none"))])],
     {"outcomes": {"e1": "rejected"}, "rejections": [("e1", "unknown_task")]})
case("never-assigned", "A user who is not and was not assigned cannot write to the task.",
     [("push", "dev-c", [finding("e2", "dev-c", 1, 1, "越权")])],
     {"outcomes": {"e2": "rejected"}, "rejections": [("e2", "unauthorized")], "last_seq": {"dev-c": 1}})
case("late-work-after-reassignment", "Work captured before a reassignment reaches the server later: applied and flagged late.",
     [{"reassign": {"task": uid("t1"), "assignees": [uid("user-b"), uid("user-c")]}},
      ("push", "dev-a", [finding("e3", "dev-a", 1, 1, "离线时记录")])],
     {"outcomes": {"e3": "applied"}, "flags": {uid("e3"): ["late"]}, "rejections": [],
      "records": [rec("finding", uid("f-e3"), {"text": ("离线时记录", hlc(1, "dev-a"), "dev-a")})],
      "revoked": {"dev-a": [uid("t1")]}})
case("new-assignee-after-reassignment", "The new assignee writes normally, without a flag.",
     [{"reassign": {"task": uid("t1"), "assignees": [uid("user-b"), uid("user-c")]}},
      ("push", "dev-c", [finding("e4", "dev-c", 1, 1, "接手")])],
     {"outcomes": {"e4": "applied"}, "flags": {uid("e4"): []}, "revoked": {"dev-c": []}})

# ---- F. the task's state machine ------------------------------------------------------
def transition(name: str, client: str, seq: int, to: str, at: int = 1) -> M:
    return M(name, client, seq, "transition", "task", uid("t1"), at=at, payload={"to": to})


case("transition-start", "A phone moves an assigned task into progress (check-in).",
     [("push", "dev-a", [transition("f1", "dev-a", 1, "in_progress")])],
     {"outcomes": {"f1": "applied"}, "task_status": {uid("t1"): "in_progress"}}, the_task=task(status="assigned"))
case("transition-submit", "A phone submits a task in progress.",
     [("push", "dev-a", [transition("f2", "dev-a", 1, "submitted")])],
     {"outcomes": {"f2": "applied"}, "task_status": {uid("t1"): "submitted"}})
case("transition-not-allowed-is-amendment", "A phone cannot approve: the transition is kept as a late amendment.",
     [("push", "dev-a", [transition("f3", "dev-a", 1, "approved")])],
     {"outcomes": {"f3": "amendment"}, "amendments": ["f3"], "task_status": {uid("t1"): "in_progress"}, "rejections": []})
case("edit-after-submit-is-amendment", "An edit arriving after the task was submitted is kept for the lead, not applied.",
     [{"server_status": {"task": uid("t1"), "to": "submitted"}}, ("push", "dev-b", [set_item("f4", "dev-b", 1, 5, True, 1)])],
     {"outcomes": {"f4": "amendment"}, "amendments": ["f4"], "records": [rec("check_item", ITEM, {})]})
late_create = finding("f7c", "dev-b", 1, 5, "提交后才同步的记录", fid=uid("f-f7"))
case("late-create-and-its-edit-stay-together", "After submission, a late create and the edits to it are all kept for the lead.",
     [{"server_status": {"task": uid("t1"), "to": "submitted"}},
      ("push", "dev-b", [late_create, M("f7e", "dev-b", 2, "set", "finding", uid("f-f7"), at=6, payload={"text": "再改"}, base={"text": 0})])],
     {"outcomes": {"f7c": "amendment", "f7e": "amendment"}, "amendments": ["f7c", "f7e"], "rejections": []})
case("late-transition-is-kept", "Someone no longer assigned does not move the new team's task: the transition is kept for the lead.",
     [{"reassign": {"task": uid("t1"), "assignees": [uid("user-b"), uid("user-c")]}},
      ("push", "dev-a", [transition("f8", "dev-a", 1, "submitted")])],
     {"outcomes": {"f8": "amendment"}, "amendments": ["f8"], "task_status": {uid("t1"): "in_progress"}, "flags": {uid("f8"): ["late"]}})
case("transition-unknown-status", "A transition to a status that does not exist is invalid.",
     [("push", "dev-a", [transition("f5", "dev-a", 1, "finished")])],
     {"outcomes": {"f5": "rejected"}, "rejections": [("f5", "invalid")]})
case("resubmit-after-return", "A returned task is edited and submitted again.",
     [("push", "dev-a", [set_item("f6a", "dev-a", 1, 5, False, 1), transition("f6b", "dev-a", 2, "submitted", at=6)])],
     {"outcomes": {"f6a": "applied", "f6b": "applied"}, "task_status": {uid("t1"): "submitted"}},
     the_task=task(status="returned"))

# ---- G. clock skew --------------------------------------------------------------------
future = SERVER_MS + 3 * 3600 * 1000
clamped = f"{SERVER_MS + 10 * 60 * 1000:015d}.000000.dev-a"
case("clock-skew-clamped", "A stamp more than 10 minutes ahead of the server is clamped for ordering and flagged.",
     [("push", "dev-a", [M("g1", "dev-a", 1, "set", "check_item", ITEM, payload={"conforms": True}, base={"conforms": 1},
                           stamp=f"{future:015d}.000000.dev-a")])],
     {"outcomes": {"g1": "applied"}, "flags": {uid("g1"): ["clock_skew"]},
      "records": [rec("check_item", ITEM, {"conforms": (True, clamped, "dev-a")})]})

# ---- H. resolving conflicts -----------------------------------------------------------
case("resolve-conflict", "Resolving a conflict is a set plus resolve_conflict; the record shows it resolved.",
     [("push", "dev-a", [set_item("h1a", "dev-a", 1, 10, True, 1)]), ("push", "dev-b", [set_item("h1b", "dev-b", 1, 20, False, 1)]),
      {"resolve_first_conflict": {"client_id": "dev-a", "mutation_id": uid("h1r"), "seq": 2, "hlc": hlc(30, "dev-a"),
                                  "task_id": uid("t1")}}],
     {"outcomes": {"h1a": "applied", "h1b": "applied", "h1r": "applied"},
      "conflicts": [conflict("check_item", ITEM, "conforms", (False, hlc(20, "dev-b"), "dev-b", "h1b"), (True, hlc(10, "dev-a"), "dev-a", "h1a"), status="resolved")]})
case("resolve-unknown-conflict", "Resolving a conflict that does not exist is rejected.",
     [("push", "dev-a", [M("h2", "dev-a", 1, "resolve_conflict", "conflict", uid("c-none"), at=1, payload={"conflict_id": uid("c-none")})])],
     {"outcomes": {"h2": "rejected"}, "rejections": [("h2", "unknown_record")]})

# ---- I. signatures --------------------------------------------------------------------
def content(items: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    return {"task_id": uid("t1"), "uscc": USCC,
            "items": sorted(({"id": i, "conforms": c, "problem_text": p} for i, c, p in items), key=lambda x: x["id"]),
            "result_codes": [], "measures": [], "referrals": [], "evidence": [], "check_ins": []}


before = content([(ITEM, True, None), (ITEM2, None, None)])
after = content([(ITEM, False, None), (ITEM2, None, None)])
sig = M("i1s", "dev-a", 2, "create", "signature", uid("sig-1"), at=20,
        payload={"signer": "business", "signer_name": "张三", "image_digest": "c" * 64, "content_hash": digest(before)})
case("signature-goes-stale", "A signature binds the hash of the content it signed; a later change makes it stale.",
     [("push", "dev-a", [set_item("i1a", "dev-a", 1, 10, True, 1), sig]), {"check_signatures": {uid("sig-1"): False}},
      ("push", "dev-b", [set_item("i1b", "dev-b", 1, 30, False, 2)])],
     {"outcomes": {"i1a": "applied", "i1s": "applied", "i1b": "applied"}, "stale_signatures": {uid("sig-1"): True},
      "content_hash": {uid("t1"): digest(after)}})
refused = M("i2s", "dev-a", 1, "create", "signature", uid("sig-2"), at=20,
            payload={"signer": "business", "refused": {"reason": "负责人拒绝签字", "witness": "李四"}, "content_hash": digest(content([(ITEM, None, None), (ITEM2, None, None)]))})
case("signature-refused", "A refusal to sign (拒签) is recorded with its reason and witness, bound to the content like a signature.",
     [("push", "dev-a", [refused])],
     {"outcomes": {"i2s": "applied"}, "stale_signatures": {uid("sig-2"): False},
      "content_hash": {uid("t1"): digest(content([(ITEM, None, None), (ITEM2, None, None)]))}})

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        if old.name != "schema.json":
            old.unlink()
    for number, c in enumerate(CASES, start=1):
        (OUT / f"{number:03d}-{c['name']}.json").write_text(json.dumps(c, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"{len(CASES)} cases written to {OUT}")

"""Runs one shared vector (sync/vectors/*.json) against the in-memory replica."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import msgspec

import sync
from sync import HybridClock, Record, Register, Replica, ReplicaStore, TaskState

VECTORS = Path(sync.__file__).parent / "vectors"


def load_cases() -> list[dict[str, Any]]:
    return [
        msgspec.json.decode(path.read_bytes())
        for path in sorted(VECTORS.glob("*.json"))
        if path.suffix == ".json" and path.name != "schema.json"
    ]


def _replica(case: dict[str, Any]) -> Replica:
    initial = case["initial"]
    store = ReplicaStore(seq=initial["seq"])
    for t in initial["tasks"]:
        store.save_task(
            TaskState(
                uuid.UUID(t["id"]),
                t["status"],
                set(t["assignees"]),
                set(t["past_assignees"]),
                t["uscc"],
                initial["seq"],
            )
        )
    for r in initial["records"]:
        fields = {name: Register(**f) for name, f in r["fields"].items()}
        store.save_record(
            Record(
                r["entity"],
                uuid.UUID(r["id"]),
                uuid.UUID(r["task_id"]),
                fields,
                r["version"],
                r["deleted"],
            )
        )
    replica = Replica(HybridClock(lambda: int(case["server_time_ms"])), store)
    for d in initial["devices"]:
        replica.register_device(d["client_id"], d["user_id"])
    return replica


def _raw(mutation: Any) -> bytes:
    return mutation.encode() if isinstance(mutation, str) else msgspec.json.encode(mutation)


def run(case: dict[str, Any]) -> None:
    replica = _replica(case)
    push_outcomes: list[list[str]] = []
    expected_seqs: list[int] = []
    flags: dict[str, list[str]] = {}
    for step in case["steps"]:
        if "push" in step:
            result = replica.push(step["push"], [_raw(m) for m in step["mutations"]])
            push_outcomes.append([r.outcome for r in result.results])
            if result.expected_seq is not None:
                expected_seqs.append(result.expected_seq)
            for r in result.results:
                if r.mutation_id:
                    flags[r.mutation_id] = list(r.flags)
        elif "reassign" in step:
            replica.reassign(uuid.UUID(step["reassign"]["task"]), step["reassign"]["assignees"])
        elif "server_status" in step:
            replica.set_status(
                uuid.UUID(step["server_status"]["task"]), step["server_status"]["to"]
            )
        elif "resolve_first_conflict" in step:
            spec = step["resolve_first_conflict"]
            [conflict] = replica.store.conflicts.values()
            mutation = {
                "id": spec["mutation_id"],
                "client_id": spec["client_id"],
                "seq": spec["seq"],
                "hlc": spec["hlc"],
                "kind": "resolve_conflict",
                "entity": "conflict",
                "entity_id": str(conflict.id),
                "task_id": spec["task_id"],
                "payload": {"conflict_id": str(conflict.id)},
            }
            result = replica.push(spec["client_id"], [_raw(mutation)])
            push_outcomes.append([r.outcome for r in result.results])
        elif "check_signatures" in step:
            stale = {
                str(k): v
                for t in replica.store.tasks
                for k, v in replica.stale_signatures(t).items()
            }
            assert stale == step["check_signatures"], stale
        else:
            raise AssertionError(f"unknown step {step}")
    check(case["expected"], replica, push_outcomes, expected_seqs, flags)


def _side(side: Any) -> dict[str, Any]:
    return {
        "value": side.value,
        "hlc": side.hlc,
        "client_id": side.client_id,
        "mutation_id": side.mutation_id,
    }


def check(
    expected: dict[str, Any],
    replica: Replica,
    push_outcomes: list[list[str]],
    expected_seqs: list[int],
    flags: dict[str, list[str]],
) -> None:
    store = replica.store
    if "outcomes" in expected:
        outcomes = {mutation_id: outcome for (_, mutation_id), outcome in store.outcomes.items()}
        assert outcomes == expected["outcomes"], outcomes
    if "push_outcomes" in expected:
        assert push_outcomes == expected["push_outcomes"], push_outcomes
    if "expected_seq" in expected:
        assert expected_seqs == expected["expected_seq"], expected_seqs
    if "rejections" in expected:
        got = [
            {"mutation_id": r.mutation_id, "reason_code": r.reason_code} for r in store.rejections
        ]
        assert got == expected["rejections"], got
    if "amendments" in expected:
        assert [a.mutation_id for a in store.amendments] == expected["amendments"]
    if "conflicts" in expected:
        got = sorted(
            (
                {
                    "entity": c.entity,
                    "entity_id": str(c.entity_id),
                    "field": c.field,
                    "winner": _side(c.winner),
                    "loser": _side(c.loser),
                    "status": c.status,
                }
                for c in store.conflicts.values()
            ),
            key=lambda c: (
                c["entity"],
                c["entity_id"],
                c["field"],
                c["loser"]["mutation_id"] or "",
            ),
        )
        want = sorted(
            expected["conflicts"],
            key=lambda c: (
                c["entity"],
                c["entity_id"],
                c["field"],
                c["loser"]["mutation_id"] or "",
            ),
        )
        assert got == want, got
    for want in expected.get("records", []):
        record = store.record(want["entity"], uuid.UUID(want["id"]))
        assert record is not None, want["id"]
        got = {
            "entity": record.entity,
            "id": str(record.id),
            "deleted": record.deleted,
            "fields": {
                k: {"value": f.value, "hlc": f.hlc, "client_id": f.client_id}
                for k, f in record.fields.items()
            },
        }
        assert got == want, got
    for task_id, status in expected.get("task_status", {}).items():
        assert store.tasks[uuid.UUID(task_id)].status == status
    for client, seq in expected.get("last_seq", {}).items():
        assert store.last_seq(client) == seq
    for mutation_id, want_flags in expected.get("flags", {}).items():
        assert flags[mutation_id] == want_flags, flags
    for client, tasks in expected.get("revoked", {}).items():
        assert [str(t) for t in replica.pull(client, 0).revocations] == tasks
    if "stale_signatures" in expected:
        stale = {str(k): v for t in store.tasks for k, v in replica.stale_signatures(t).items()}
        assert stale == expected["stale_signatures"], stale
    for task_id, digest in expected.get("content_hash", {}).items():
        assert replica.content_hash(uuid.UUID(task_id)) == digest

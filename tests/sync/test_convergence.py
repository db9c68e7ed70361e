"""A stateful property test: three devices and the server, with a hostile network.

Devices go offline, requests and responses are dropped, batches are duplicated and
reordered, a task is reassigned, the server restarts (its clock state is lost). Invariants:
every captured mutation is applied exactly once or stored as rejected; every concurrent write
to one field leaves a conflict record; after a final sync every device holds the server's
state. CI runs a fixed, derandomised budget; ``ZSJG_HYPOTHESIS_LONG=1`` runs a long one.
"""

from __future__ import annotations

import copy
import os
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sync import HybridClock, Replica, server_record_id

LONG = os.environ.get("ZSJG_HYPOTHESIS_LONG") == "1"
TASK = uuid.UUID("00000000-0000-4000-8000-000000000001")
USERS = {"dev-a": "user-a", "dev-b": "user-b", "dev-c": "user-c"}
POINTS = ("p1", "p2")
VALUES = (True, False, None)


@dataclass
class Phone:
    client_id: str
    clock: HybridClock
    seq: int = 0
    outbox: list[tuple[int, str, bytes]] = field(default_factory=list)
    """(seq, mutation id, raw) not yet confirmed by a pull."""
    view: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """What the phone knows of the server: (entity, id) → {"version", "deleted", "fields": {name: (value, version)}}."""
    cursor: int = 0
    findings: list[str] = field(default_factory=list)
    acked: list[tuple[int, str, bytes]] = field(default_factory=list)
    """Confirmed by a pull, kept (30 days on a real phone) in case the server forgets them."""
    epoch: int = 0


class Network(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.wall = 1_764_460_000_000
        self.server = Replica(HybridClock(lambda: self.wall))
        self.server.issue_task(TASK, ["user-a", "user-b"], uscc="91360731MA35XY0128", points=POINTS)
        self.phones = {cid: Phone(cid, HybridClock(self._phone_wall(cid), cid)) for cid in USERS}
        for cid, user in USERS.items():
            self.server.register_device(cid, user)
        self.captured: set[str] = set()
        self.rng = random.Random(0)
        self.epoch = 0
        self.backup: Any = None

    def _phone_wall(self, cid: str) -> Any:
        skew = {"dev-a": 0, "dev-b": -5_000, "dev-c": 40 * 60 * 1000}[
            cid
        ]  # dev-c's clock runs far ahead
        return lambda: self.wall + skew

    # --- capture on a phone -------------------------------------------------------

    def _capture(
        self,
        phone: Phone,
        kind: str,
        entity: str,
        entity_id: str,
        payload: dict[str, Any],
        **base: Any,
    ) -> None:
        phone.seq += 1
        mutation = {
            "id": str(uuid.uuid4()),
            "client_id": phone.client_id,
            "seq": phone.seq,
            "hlc": str(phone.clock.now()),
            "kind": kind,
            "entity": entity,
            "entity_id": entity_id,
            "task_id": str(TASK),
            "payload": payload,
            **base,
        }
        phone.outbox.append((phone.seq, mutation["id"], msgspec.json.encode(mutation)))
        self.captured.add(mutation["id"])
        self.wall += 7

    @rule(
        cid=st.sampled_from(sorted(USERS)),
        point=st.sampled_from(POINTS),
        value=st.sampled_from(VALUES),
        text=st.booleans(),
    )
    def edit_item(self, cid: str, point: str, value: Any, text: bool) -> None:
        phone = self.phones[cid]
        item = str(server_record_id(TASK, "check_item", point))
        name = "problem_text" if text else "conforms"
        if text:
            value = None if value is None else ("问题" if value else "无问题")
        known = phone.view.get(("check_item", item), {"fields": {}})
        base = known["fields"].get(name, (None, 0))[1]
        self._capture(phone, "set", "check_item", item, {name: value}, base_versions={name: base})

    @rule(cid=st.sampled_from(sorted(USERS)))
    def add_finding(self, cid: str) -> None:
        phone = self.phones[cid]
        fid = str(uuid.uuid4())
        phone.findings.append(fid)
        self._capture(phone, "create", "finding", fid, {"text": f"{cid} 发现的问题"})

    @rule(cid=st.sampled_from(sorted(USERS)), data=st.data())
    def delete_finding(self, cid: str, data: st.DataObject) -> None:
        phone = self.phones[cid]
        known = [
            key[1] for key, rec in phone.view.items() if key[0] == "finding" and not rec["deleted"]
        ]
        if not known:
            return
        fid = data.draw(st.sampled_from(sorted(known)))
        self._capture(
            phone,
            "delete",
            "finding",
            fid,
            {},
            base_version=phone.view[("finding", fid)]["version"],
        )

    # --- the network ----------------------------------------------------------------

    def _deliver_one(self, phone: Phone, raw: bytes) -> None:
        """Hand one mutation to the server, checking the conflict rule against the state it meets."""
        mutation = msgspec.json.decode(raw)
        before = None
        if mutation["kind"] == "set":
            record = self.server.store.record(mutation["entity"], uuid.UUID(mutation["entity_id"]))
            if record is not None and not record.deleted:
                [(name, value)] = mutation["payload"].items()
                current = record.fields.get(name)
                if current is not None:
                    before = (
                        name,
                        value,
                        current.value,
                        current.version,
                        current.client_id,
                        current.mutation_id,
                    )
        known_conflicts = len(self.server.store.conflicts)
        result = self.server.push(phone.client_id, [raw])
        processed = [
            r
            for r in result.results
            if r.mutation_id == mutation["id"] and r.outcome in ("applied", "conflict")
        ]
        if before is not None and processed:
            name, value, current_value, version, writer, writer_mutation = before
            concurrent = (
                mutation["base_versions"].get(name, 0) != version and writer != phone.client_id
            )
            if concurrent and value != current_value:
                new = list(self.server.store.conflicts.values())[known_conflicts:]
                assert any(
                    c.field == name
                    and {c.winner.mutation_id, c.loser.mutation_id}
                    == {mutation["id"], writer_mutation}
                    for c in new
                ), "a concurrent write left no conflict record"

    @rule(
        cid=st.sampled_from(sorted(USERS)),
        drop_request=st.booleans(),
        drop_response=st.booleans(),
        duplicate=st.booleans(),
        shuffle=st.booleans(),
    )
    def sync(
        self, cid: str, drop_request: bool, drop_response: bool, duplicate: bool, shuffle: bool
    ) -> None:
        phone = self.phones[cid]
        self.wall += 1000
        batch = [raw for _, _, raw in phone.outbox]
        if shuffle:
            self.rng.shuffle(batch)
        if not drop_request:
            for _ in range(2 if duplicate else 1):
                for raw in batch:
                    self._deliver_one(phone, raw)
        if not drop_response:
            self._pull(phone)

    def _pull(self, phone: Phone) -> None:
        if phone.epoch != self.epoch:
            # the server was restored from a backup: push again everything still held, from scratch
            phone.outbox = sorted(phone.acked + phone.outbox)
            phone.acked, phone.view, phone.cursor, phone.epoch = [], {}, 0, self.epoch
            for _, _, raw in phone.outbox:
                self._deliver_one(phone, raw)
        pulled = self.server.pull(phone.client_id, phone.cursor)
        for record in pulled.records:
            phone.view[(record.entity, str(record.id))] = {
                "version": record.version,
                "deleted": record.deleted,
                "fields": {k: (f.value, f.version) for k, f in record.fields.items()},
            }
        for task_id in pulled.revocations:
            if not phone.outbox:  # only a device with nothing pending purges
                phone.view = {
                    k: v for k, v in phone.view.items() if k[0] and self._task_of(k) != task_id
                }
        phone.cursor = pulled.cursor
        phone.acked += [entry for entry in phone.outbox if entry[0] <= pulled.last_seq]
        phone.outbox = [entry for entry in phone.outbox if entry[0] > pulled.last_seq]

    def _task_of(self, key: tuple[str, str]) -> uuid.UUID | None:
        record = self.server.store.record(key[0], uuid.UUID(key[1]))
        return record.task_id if record else None

    @rule()
    def reassign(self) -> None:
        task = self.server.store.tasks[TASK]
        pairs = [["user-a", "user-b"], ["user-b", "user-c"], ["user-a", "user-c"]]
        self.server.reassign(TASK, pairs[(pairs.index(sorted(task.assignees)) + 1) % 3])

    @rule()
    def restart_server(self) -> None:
        self.server = Replica(HybridClock(lambda: self.wall), self.server.store)
        for cid, user in USERS.items():
            self.server.register_device(cid, user)

    @rule()
    def take_backup(self) -> None:
        self.backup = copy.deepcopy(self.server.store)

    @precondition(lambda self: self.backup is not None)
    @rule()
    def restore_backup(self) -> None:
        """The server forgets: an older backup is restored and its epoch changes."""
        self.server = Replica(HybridClock(lambda: self.wall), copy.deepcopy(self.backup))
        for cid, user in USERS.items():
            self.server.register_device(cid, user)
        self.epoch += 1

    @rule(minutes=st.integers(min_value=1, max_value=120))
    def time_passes(self, minutes: int) -> None:
        self.wall += minutes * 60_000

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def each_mutation_has_at_most_one_effect(self) -> None:
        counts = Counter(e.mutation_id for e in self.server.store.mutation_log if e.mutation_id)
        assert not [m for m, n in counts.items() if n > 1], "a mutation had two effects"

    @invariant()
    def nothing_is_lost(self) -> None:
        waiting = {
            mid for phone in self.phones.values() for _, mid, _ in phone.outbox + phone.acked
        }
        assert self.captured <= {mid for _, mid in self.server.store.outcomes} | waiting

    def teardown(self) -> None:
        # the network heals: every phone syncs until its outbox is empty, then pulls everything
        for _ in range(3):
            for phone in self.phones.values():
                for _, _, raw in sorted(phone.outbox):
                    self._deliver_one(phone, raw)
                self._pull(phone)
        for phone in self.phones.values():
            assert phone.outbox == []
        assert self.captured <= {mid for _, mid in self.server.store.outcomes}, (
            "a captured mutation was never applied or rejected"
        )
        for phone in self.phones.values():
            # first what the phone built from delta pulls alone, then a full re-download: both must agree
            for fresh in (False, True):
                if fresh:
                    phone.view, phone.cursor = {}, 0
                self._pull(phone)
                self._assert_converged(phone)

    def _assert_converged(self, phone: Phone) -> None:
        visible = self.server.visible(USERS[phone.client_id])
        expected = {
            (r.entity, str(r.id)): {
                "version": r.version,
                "deleted": r.deleted,
                "fields": {k: (f.value, f.version) for k, f in r.fields.items()},
            }
            for r in self.server.store.records.values()
            if r.task_id in visible
        }
        held = {k: v for k, v in phone.view.items() if self._task_of(k) in visible}
        assert held == expected, "a phone's delta-pulled view differs from the server"


Network.TestCase.settings = settings(
    max_examples=1500 if LONG else 60,
    stateful_step_count=60 if LONG else 30,
    derandomize=not LONG,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestNetwork = Network.TestCase

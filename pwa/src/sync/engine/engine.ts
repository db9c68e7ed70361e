// Applying a device's push: ordered, idempotent, every mutation merged by its field kind or
// kept. A faithful port of sync/_engine.py; the shared vectors (sync/vectors/) hold both to
// the same results. The contract (docs/sync-protocol.md):
//
// * mutations are processed in `seq` order; `seq` ≤ the device's `last_seq` was processed
//   already (`skipped`); a gap stops the push and the answer names the seq it expects;
// * a mutation id seen before (under another seq) has no second effect (`duplicate`);
// * one that can never apply — undecodable, invalid, unauthorised — is stored as rejected
//   with its payload verbatim and `last_seq` moves past it; the batch goes on;
// * an edit or transition the task's state no longer allows is kept as an amendment for the lead;
// * `set`: a last-writer-wins register per field; when the writer had not seen the current
//   value, the value was written by another device and the two differ, the greater HLC wins
//   and a conflict record keeps both; equal values merge silently (the greater HLC stays); a
//   device never conflicts with its own edits;
// * `delete`: a tombstone; a delete that had not seen another device's later edit loses
//   (conflict on `_deleted`), and an edit that had not seen a delete brings the record back
//   (conflict on `_deleted`).
//
// Pure and synchronous: no I/O beyond the Store it is given. Raw mutations are JSON text.

import { ENTITIES, validate } from "./entities";
import { DecodeError, InvalidHlc, InvalidMutation } from "./errors";
import { Hlc, type HybridClock } from "./hlc";
import { createRecord, deleteRecord, setFields } from "./merge";
import {
  decodeMutation,
  type Mutation,
  type MutationResult,
  type PushOutcome,
  result,
} from "./messages";
import { clean, peek, place } from "./place";
import { codePointLength, strRepr, wellFormed } from "./py";
import type { Side, Store, TaskState } from "./state";
import { clientMay, EDITABLE, ALL as STATUSES } from "./status";
import { parseUuidLenient } from "./uuid";

export interface Device {
  readonly client_id: string;
  readonly user_id: string;
}

function decode(raw: string): Mutation | InvalidMutation {
  try {
    return decodeMutation(raw);
  } catch (error) {
    if (error instanceof DecodeError) {
      return new InvalidMutation("invalid", `not a valid mutation: ${error.message}`);
    }
    throw error;
  }
}

/** Applies pushes to a Store. */
export class Engine {
  constructor(
    readonly store: Store,
    readonly clock: HybridClock,
  ) {}

  /** Applies `raws` (each mutation's JSON text) in order. */
  push(device: Device, raws: readonly string[]): PushOutcome {
    const outcome: PushOutcome = {
      last_seq: this.store.lastSeq(device.client_id),
      expected_seq: null,
      results: [],
    };
    for (const raw of raws) {
      if (!this.next(device, wellFormed(raw), outcome)) {
        break;
      }
    }
    this.store.setLastSeq(device.client_id, outcome.last_seq);
    return outcome;
  }

  /** Processes one mutation into `outcome`; false when the push stops at a gap. */
  private next(device: Device, raw: string, outcome: PushOutcome): boolean {
    const known = place(raw);
    if (known !== null && known.position !== null && known.position <= outcome.last_seq) {
      outcome.results.push(result(known.mutationId, known.position, "skipped"));
      return true;
    }
    const decoded = decode(raw);
    const read =
      decoded instanceof InvalidMutation ? peek(raw) : { mutationId: decoded.id, seq: decoded.seq };
    const mutationId = read.mutationId;
    const seq = read.seq ?? outcome.last_seq + 1; // an unreadable mutation takes the next place
    if (seq <= outcome.last_seq) {
      outcome.results.push(result(mutationId, seq, "skipped"));
      return true;
    }
    if (seq > outcome.last_seq + 1) {
      outcome.expected_seq = outcome.last_seq + 1;
      return false;
    }
    const seen = mutationId ? this.store.outcomeOf(device.client_id, mutationId) : null;
    if (seen !== null) {
      outcome.results.push(result(mutationId, seq, "duplicate", null, seen));
      outcome.last_seq = seq; // its place in the order is taken, with no second effect
      return true;
    }
    let processed: MutationResult;
    if (decoded instanceof InvalidMutation) {
      processed = this.reject(device, raw, mutationId, seq, decoded);
    } else if (decoded.client_id !== device.client_id) {
      const error = new InvalidMutation("unauthorized", "a device pushes only its own mutations");
      processed = this.reject(device, raw, mutationId, seq, error);
    } else {
      processed = this.applyOrReject(device, decoded, raw);
    }
    outcome.results.push(processed);
    outcome.last_seq = seq;
    return true;
  }

  private applyOrReject(device: Device, m: Mutation, raw: string): MutationResult {
    try {
      return this.apply(device, m, raw);
    } catch (error) {
      if (error instanceof InvalidMutation) {
        return this.reject(device, raw, m.id, m.seq, error);
      }
      throw error;
    }
  }

  private reject(
    device: Device,
    raw: string,
    mutationId: string | null,
    seq: number | null,
    error: InvalidMutation,
  ): MutationResult {
    const reason = clean(error.reason);
    this.store.addRejection({
      mutation_id: mutationId,
      client_id: device.client_id,
      seq,
      payload: raw,
      reason_code: error.code,
      reason,
    });
    this.store.log({
      mutation_id: mutationId,
      client_id: device.client_id,
      seq,
      outcome: "rejected",
      flags: [],
      hlc: null,
    });
    return result(mutationId, seq, "rejected", error.code, reason);
  }

  private observe(m: Mutation): { stamp: string; skewed: boolean } {
    let stamp: Hlc;
    try {
      stamp = Hlc.parse(m.hlc);
    } catch (error) {
      if (error instanceof InvalidHlc) {
        throw new InvalidMutation("invalid", error.message);
      }
      throw error;
    }
    const observed = this.clock.observe(stamp);
    if (observed.effective.node !== m.client_id) {
      throw new InvalidMutation("invalid", "the HLC's node must be the mutation's client_id");
    }
    return { stamp: observed.effective.toString(), skewed: observed.skewed };
  }

  private apply(device: Device, m: Mutation, raw: string): MutationResult {
    const { stamp, skewed } = this.observe(m);
    const flags = skewed ? ["clock_skew"] : [];
    const task = this.store.task(m.task_id);
    if (task === null) {
      throw new InvalidMutation("unknown_task", "no such task");
    }
    if (!task.assignees.has(device.user_id)) {
      if (!task.past_assignees.has(device.user_id)) {
        throw new InvalidMutation(
          "unauthorized",
          "the user is not and was not assigned to this task",
        );
      }
      flags.push("late");
    }
    const side: Side = {
      value: null,
      hlc: stamp,
      user_id: device.user_id,
      client_id: device.client_id,
      mutation_id: m.id,
    };
    const applied = this.dispatch(m, task, side, raw, flags.includes("late"));
    applied.flags = flags;
    this.store.log({
      mutation_id: applied.mutation_id,
      client_id: device.client_id,
      seq: m.seq,
      outcome: applied.outcome,
      flags: [...flags],
      hlc: m.hlc,
    });
    return applied;
  }

  private dispatch(
    m: Mutation,
    task: TaskState,
    side: Side,
    raw: string,
    late: boolean,
  ): MutationResult {
    if (m.kind === "transition") {
      return this.transition(m, task, side, raw, late);
    }
    if (m.kind === "resolve_conflict") {
      return this.resolve(m, task, side);
    }
    const spec = ENTITIES.get(m.entity);
    if (spec === undefined) {
      throw new InvalidMutation("unknown_entity", `no entity ${strRepr(m.entity)}`);
    }
    if (m.kind === "create") {
      if (spec.serverMade) {
        throw new InvalidMutation("invalid", `${m.entity} records are made by the server`);
      }
      validate(spec, m.payload, true);
    } else if (m.kind === "set") {
      if (spec.immutable) {
        throw new InvalidMutation("immutable", `${m.entity} records cannot change once created`);
      }
      validate(spec, m.payload, false);
    } else if (!spec.deletable) {
      throw new InvalidMutation("not_deletable", `${m.entity} records cannot be deleted`);
    }
    if (!EDITABLE.has(task.status)) {
      // kept for the lead whatever it touches: a late create and the edits after it stay together
      return this.amend(m, task, side, raw);
    }
    const record = this.store.record(m.entity, m.entity_id);
    if (record !== null && record.task_id !== m.task_id) {
      throw new InvalidMutation("invalid", "the record belongs to another task");
    }
    if (m.kind === "create") {
      if (record !== null) {
        throw new InvalidMutation("id_taken", `${m.entity} ${m.entity_id} exists already`);
      }
      return createRecord(this.store, m, side);
    }
    if (record === null) {
      throw new InvalidMutation("unknown_record", `no ${m.entity} ${m.entity_id}`);
    }
    return m.kind === "set"
      ? setFields(this.store, m, record, side)
      : deleteRecord(this.store, m, record, side);
  }

  private amend(m: Mutation, task: TaskState, side: Side, raw: string): MutationResult {
    this.store.addAmendment({
      mutation_id: m.id,
      client_id: side.client_id,
      task_id: task.id,
      task_status: task.status,
      payload: raw,
    });
    return result(
      m.id,
      m.seq,
      "amendment",
      "task_state",
      `the task is ${task.status}: kept for the lead`,
    );
  }

  private transition(
    m: Mutation,
    task: TaskState,
    side: Side,
    raw: string,
    late: boolean,
  ): MutationResult {
    const to = m.payload.get("to");
    if (m.payload.size !== 1 || typeof to !== "string" || !STATUSES.has(to)) {
      throw new InvalidMutation("invalid", 'a transition carries {"to": <status>}');
    }
    if (late || !clientMay(task.status, to)) {
      // someone no longer assigned does not move the new team's task: the lead decides
      return this.amend(m, task, side, raw);
    }
    task.status = to;
    task.version = this.store.nextVersion();
    this.store.saveTask(task);
    return result(m.id, m.seq, "applied");
  }

  private resolve(m: Mutation, task: TaskState, side: Side): MutationResult {
    const rawId = m.payload.get("conflict_id");
    const note = m.payload.get("note") ?? null;
    const extra = [...m.payload.keys()].some((k) => k !== "conflict_id" && k !== "note");
    const noteOk =
      note === null ||
      (typeof note === "string" && codePointLength(note) <= 500 && !note.includes("\0"));
    if (extra || typeof rawId !== "string" || !noteOk) {
      throw new InvalidMutation(
        "invalid",
        'resolve_conflict carries {"conflict_id": …, "note": …}',
      );
    }
    const conflictId = parseUuidLenient(rawId);
    if (conflictId === null) {
      throw new InvalidMutation("invalid", "conflict_id is not a uuid");
    }
    const conflict = this.store.conflict(conflictId);
    if (conflict === null || conflict.task_id !== task.id) {
      throw new InvalidMutation("unknown_record", "no such conflict on this task");
    }
    if (conflict.status !== "resolved") {
      conflict.status = "resolved";
      conflict.resolved_by = { ...side, value: note };
      conflict.version = this.store.nextVersion();
      this.store.saveConflict(conflict);
    }
    return result(m.id, m.seq, "applied");
  }
}

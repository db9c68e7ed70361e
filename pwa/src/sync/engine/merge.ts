// The merge rules of create, set and delete (sync/_engine.py): a last-writer-wins register
// per field, conflict records that keep both sides, and tombstones.

import { InvalidMutation } from "./errors";
import type { JsonValue } from "./json";
import { type Mutation, type MutationResult, result } from "./messages";
import { compareCodePoints, pyEquals } from "./py";
import type { Register, Side, Store, SyncRecord } from "./state";

/** The field a conflict between a delete and an edit is recorded on. */
export const DELETED = "_deleted";

function register(value: JsonValue, version: number, side: Side): Register {
  return {
    value,
    version,
    hlc: side.hlc,
    client_id: side.client_id,
    user_id: side.user_id,
    mutation_id: side.mutation_id,
  };
}

function sideOf(r: Register, value: JsonValue = r.value): Side {
  return {
    value,
    hlc: r.hlc,
    user_id: r.user_id,
    client_id: r.client_id,
    mutation_id: r.mutation_id,
  };
}

function withValue(side: Side, value: JsonValue): Side {
  return { ...side, value };
}

function addConflict(
  store: Store,
  record: SyncRecord,
  field: string,
  winner: Side,
  loser: Side,
): void {
  const id = store.newId();
  store.saveConflict({
    id,
    task_id: record.task_id,
    entity: record.entity,
    entity_id: record.id,
    field,
    winner,
    loser,
    status: "open",
    resolved_by: null,
    version: store.nextVersion(),
  });
}

export function createRecord(store: Store, m: Mutation, side: Side): MutationResult {
  const version = store.nextVersion();
  const fields = new Map<string, Register>();
  for (const [name, value] of m.payload) {
    fields.set(name, register(value, version, side));
  }
  store.saveRecord({
    entity: m.entity,
    id: m.entity_id,
    task_id: m.task_id,
    fields,
    version,
    deleted: false,
    created_by: side.mutation_id,
    deleted_by: null,
  });
  return result(side.mutation_id, m.seq, "applied");
}

/** An edit that did not see the delete brings the record back; one that saw it is rejected. */
function resurrect(store: Store, m: Mutation, record: SyncRecord, side: Side): void {
  const deletedBy = record.deleted_by;
  if (deletedBy === null) {
    throw new Error(`${m.entity} ${m.entity_id} is deleted but names no delete`);
  }
  const saw = Math.max(0, ...m.base_versions.values()) >= record.version;
  if (saw || deletedBy.client_id === side.client_id) {
    throw new InvalidMutation("deleted", `${m.entity} ${m.entity_id} was deleted`);
  }
  addConflict(store, record, DELETED, withValue(side, false), sideOf(deletedBy));
  record.deleted = false;
  record.deleted_by = null;
}

export function setFields(
  store: Store,
  m: Mutation,
  record: SyncRecord,
  side: Side,
): MutationResult {
  const version = store.nextVersion();
  let lost = false;
  let written = false;
  const resurrected = record.deleted;
  if (resurrected) {
    resurrect(store, m, record, side);
  }
  for (const [name, value] of m.payload) {
    const mine = withValue(side, value);
    const current = record.fields.get(name);
    const newer = current !== undefined && compareCodePoints(side.hlc, current.hlc) > 0;
    if (
      current === undefined ||
      m.base_versions.get(name) === current.version ||
      current.client_id === side.client_id
    ) {
      record.fields.set(name, register(value, version, side));
      written = true;
    } else if (pyEquals(current.value, value)) {
      if (newer) {
        record.fields.set(name, register(value, version, side));
        written = true;
      }
    } else if (newer) {
      addConflict(store, record, name, mine, sideOf(current));
      record.fields.set(name, register(value, version, side));
      written = true;
    } else {
      addConflict(store, record, name, sideOf(current), mine);
      lost = true;
    }
  }
  if (written || resurrected) {
    record.version = version; // a record back from the dead is news to every device
    store.saveRecord(record);
  }
  return result(m.id, m.seq, lost && !written ? "conflict" : "applied");
}

export function deleteRecord(
  store: Store,
  m: Mutation,
  record: SyncRecord,
  side: Side,
): MutationResult {
  if (record.deleted) {
    return result(side.mutation_id, m.seq, "applied");
  }
  const base = m.base_version ?? 0;
  let last: Register | null = null;
  for (const r of record.fields.values()) {
    if (
      r.version > base &&
      r.client_id !== side.client_id &&
      (last === null || r.version > last.version)
    ) {
      last = r;
    }
  }
  if (last !== null) {
    // another device wrote the record after what the deleter saw: the edit wins
    addConflict(store, record, DELETED, sideOf(last, false), withValue(side, true));
    return result(side.mutation_id, m.seq, "conflict");
  }
  record.deleted = true;
  record.version = store.nextVersion();
  record.deleted_by = register(true, record.version, side);
  store.saveRecord(record);
  return result(side.mutation_id, m.seq, "applied");
}

// What the engine reads and writes: records with per-field registers, tasks, conflicts,
// rejections (sync/_state.py). Field names follow the wire (snake_case), so pulled data
// loads as it is. Ids are canonical lowercase UUID strings.

import type { JsonValue } from "./json";

/** One field's last write: its value, the change sequence that wrote it, and who and when. */
export interface Register {
  value: JsonValue;
  version: number;
  hlc: string;
  client_id: string;
  user_id: string | null;
  mutation_id: string | null;
}

/** A synced record (`Record` in Python; renamed so it does not hide TypeScript's own). */
export interface SyncRecord {
  entity: string;
  id: string;
  task_id: string;
  fields: Map<string, Register>;
  version: number;
  deleted: boolean;
  /** The mutation id that created it (client-made records). */
  created_by: string | null;
  /** The delete's stamp and author, while the record is a tombstone. */
  deleted_by: Register | null;
}

/** The field's current value (null when it was never written). */
export function fieldValue(record: SyncRecord, name: string): JsonValue {
  return record.fields.get(name)?.value ?? null;
}

export interface TaskState {
  id: string;
  status: string;
  /** User ids assigned now. */
  assignees: Set<string>;
  /** User ids assigned before a reassignment: their late work still applies, flagged. */
  past_assignees: Set<string>;
  uscc: string;
  version: number;
}

export interface Side {
  readonly value: JsonValue;
  readonly hlc: string;
  readonly user_id: string | null;
  readonly client_id: string;
  readonly mutation_id: string | null;
}

export interface Conflict {
  id: string;
  task_id: string;
  entity: string;
  entity_id: string;
  field: string;
  winner: Side;
  loser: Side;
  status: "open" | "resolved";
  resolved_by: Side | null;
  version: number;
}

export interface Rejection {
  readonly mutation_id: string | null;
  readonly client_id: string;
  readonly seq: number | null;
  /** The mutation exactly as it arrived (JSON text). */
  readonly payload: string;
  readonly reason_code: string;
  readonly reason: string;
}

/** A change the task's state no longer allowed: kept for the lead, not applied. */
export interface Amendment {
  readonly mutation_id: string;
  readonly client_id: string;
  readonly task_id: string;
  readonly task_status: string;
  readonly payload: string;
}

export type Outcome = "applied" | "conflict" | "duplicate" | "rejected" | "amendment" | "skipped";

export interface LogEntry {
  readonly mutation_id: string | null;
  readonly client_id: string;
  readonly seq: number | null;
  readonly outcome: Outcome;
  readonly flags: readonly string[];
  /** The stamp exactly as the device sent it (the register may hold a clamped one). */
  readonly hlc: string | null;
}

/** Storage behind the engine. The in-memory replica implements it. */
export interface Store {
  task(taskId: string): TaskState | null;
  saveTask(task: TaskState): void;
  record(entity: string, recordId: string): SyncRecord | null;
  saveRecord(record: SyncRecord): void;
  recordsOfTask(taskId: string): SyncRecord[];
  conflict(conflictId: string): Conflict | null;
  saveConflict(conflict: Conflict): void;
  addRejection(rejection: Rejection): void;
  addAmendment(amendment: Amendment): void;
  outcomeOf(clientId: string, mutationId: string): Outcome | null;
  log(entry: LogEntry): void;
  lastSeq(clientId: string): number;
  setLastSeq(clientId: string, seq: number): void;
  nextVersion(): number;
  newId(): string;
}

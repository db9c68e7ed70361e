// An in-memory replica (sync/_replica.py): the engine over maps, plus pull and the server's
// own moves. The shared vectors run against it; the app keeps its optimistic view in one.

import { Engine } from "./engine";
import type { HybridClock } from "./hlc";
import { cloneValue, type JsonValue } from "./json";
import type { PushOutcome } from "./messages";
import { contentHash, isStale } from "./signing";
import type {
  Amendment,
  Conflict,
  LogEntry,
  Outcome,
  Register,
  Rejection,
  Side,
  Store,
  SyncRecord,
  TaskState,
} from "./state";
import { SYNC_NAMESPACE, serverRecordId, uuid5 } from "./uuid";

export interface Revocation {
  readonly task_id: string;
  readonly user_id: string;
  readonly version: number;
}

export interface Pulled {
  records: SyncRecord[];
  conflicts: Conflict[];
  rejections: Rejection[];
  revocations: string[];
  tasks: TaskState[];
  last_seq: number;
  cursor: number;
}

export interface ReplicaOptions {
  /** The change sequence before the first write (0 for a new server). */
  seq?: number;
  /** Conflict ids; by default uuid5(NAMESPACE, "conflict/{n}"), as the Python replica makes them. */
  newId?: () => string;
}

function pair(a: string, b: string): string {
  return JSON.stringify([a, b]);
}

export class ReplicaStore implements Store {
  readonly tasks = new Map<string, TaskState>();
  readonly records = new Map<string, SyncRecord>();
  readonly conflicts = new Map<string, Conflict>();
  readonly rejections: Rejection[] = [];
  readonly amendments: Amendment[] = [];
  readonly mutationLog: LogEntry[] = [];
  /** (client id, mutation id) → what became of it: ids are de-duplicated per device. */
  readonly outcomes = new Map<
    string,
    { client_id: string; mutation_id: string; outcome: Outcome }
  >();
  readonly lastSeqs = new Map<string, number>();
  readonly revocations: Revocation[] = [];
  /** (task, user) → the change sequence when the user got the task. */
  readonly assignedAt = new Map<string, number>();
  seq: number;
  private ids = 0;
  private readonly makeId: (() => string) | undefined;

  constructor(options: ReplicaOptions = {}) {
    this.seq = options.seq ?? 0;
    this.makeId = options.newId;
  }

  task(taskId: string): TaskState | null {
    return this.tasks.get(taskId) ?? null;
  }

  saveTask(task: TaskState): void {
    this.tasks.set(task.id, task);
  }

  record(entity: string, recordId: string): SyncRecord | null {
    return this.records.get(pair(entity, recordId)) ?? null;
  }

  saveRecord(record: SyncRecord): void {
    this.records.set(pair(record.entity, record.id), record);
  }

  recordsOfTask(taskId: string): SyncRecord[] {
    return [...this.records.values()].filter((r) => r.task_id === taskId);
  }

  conflict(conflictId: string): Conflict | null {
    return this.conflicts.get(conflictId) ?? null;
  }

  saveConflict(conflict: Conflict): void {
    this.conflicts.set(conflict.id, conflict);
  }

  addRejection(rejection: Rejection): void {
    this.rejections.push(rejection);
  }

  addAmendment(amendment: Amendment): void {
    this.amendments.push(amendment);
  }

  outcomeOf(clientId: string, mutationId: string): Outcome | null {
    return this.outcomes.get(pair(clientId, mutationId))?.outcome ?? null;
  }

  log(entry: LogEntry): void {
    this.mutationLog.push(entry);
    if (entry.mutation_id !== null) {
      const { client_id, mutation_id, outcome } = entry;
      this.outcomes.set(pair(client_id, mutation_id), { client_id, mutation_id, outcome });
    }
  }

  lastSeq(clientId: string): number {
    return this.lastSeqs.get(clientId) ?? 0;
  }

  setLastSeq(clientId: string, seq: number): void {
    this.lastSeqs.set(clientId, seq);
  }

  nextVersion(): number {
    this.seq += 1;
    return this.seq;
  }

  newId(): string {
    this.ids += 1;
    return this.makeId?.() ?? uuid5(SYNC_NAMESPACE, `conflict/${this.ids}`);
  }

  assignedVersion(taskId: string, userId: string): number | undefined {
    return this.assignedAt.get(pair(taskId, userId));
  }

  setAssigned(taskId: string, userId: string, version: number): void {
    this.assignedAt.set(pair(taskId, userId), version);
  }
}

/** A record as the wire and the vectors write it (fields as an object, registers in full). */
export interface WireRecord {
  entity: string;
  id: string;
  task_id: string;
  fields: { [name: string]: WireRegister };
  version: number;
  deleted: boolean;
}

export interface WireRegister {
  value: JsonValue;
  version: number;
  hlc: string;
  client_id: string;
  user_id?: string | null;
  mutation_id?: string | null;
}

function copyRegister(r: WireRegister): Register {
  return {
    value: cloneValue(r.value),
    version: r.version,
    hlc: r.hlc,
    client_id: r.client_id,
    user_id: r.user_id ?? null,
    mutation_id: r.mutation_id ?? null,
  };
}

/** A record read from the wire (a pull, a vector); a tombstone's delete is not on the wire. */
export function loadRecord(wire: WireRecord): SyncRecord {
  return {
    entity: wire.entity,
    id: wire.id,
    task_id: wire.task_id,
    fields: new Map(Object.entries(wire.fields).map(([name, r]) => [name, copyRegister(r)])),
    version: wire.version,
    deleted: wire.deleted,
    created_by: null,
    deleted_by: null,
  };
}

function copyRecord(r: SyncRecord): SyncRecord {
  return {
    ...r,
    fields: new Map([...r.fields].map(([name, f]) => [name, copyRegister(f)])),
    deleted_by: r.deleted_by === null ? null : copyRegister(r.deleted_by),
  };
}

function copySide(side: Side): Side {
  return { ...side, value: cloneValue(side.value) };
}

function copyConflict(c: Conflict): Conflict {
  return {
    ...c,
    winner: copySide(c.winner),
    loser: copySide(c.loser),
    resolved_by: c.resolved_by === null ? null : copySide(c.resolved_by),
  };
}

function copyTask(t: TaskState): TaskState {
  return { ...t, assignees: new Set(t.assignees), past_assignees: new Set(t.past_assignees) };
}

export interface IssueOptions {
  uscc?: string;
  points?: Iterable<string>;
  status?: string;
}

/** The server, in memory. */
export class Replica {
  readonly store: ReplicaStore;
  readonly devices = new Map<string, string>();

  constructor(
    readonly clock: HybridClock,
    store?: ReplicaStore,
  ) {
    this.store = store ?? new ReplicaStore();
  }

  registerDevice(clientId: string, userId: string): void {
    const owner = this.devices.get(clientId) ?? userId;
    if (owner !== userId) {
      throw new Error("a device belongs to one user");
    }
    this.devices.set(clientId, owner);
  }

  issueTask(taskId: string, assignees: Iterable<string>, options: IssueOptions = {}): void {
    const version = this.store.nextVersion();
    const users = new Set(assignees);
    const status = options.status ?? "assigned";
    this.store.saveTask({
      id: taskId,
      status,
      assignees: users,
      past_assignees: new Set(),
      uscc: options.uscc ?? "",
      version,
    });
    for (const user of users) {
      this.store.setAssigned(taskId, user, version);
    }
    const empty = (entity: string, id: string): SyncRecord => ({
      entity,
      id,
      task_id: taskId,
      fields: new Map(),
      version,
      deleted: false,
      created_by: null,
      deleted_by: null,
    });
    for (const key of options.points ?? ["1"]) {
      this.store.saveRecord(empty("check_item", serverRecordId(taskId, "check_item", key)));
    }
    this.store.saveRecord(empty("result", serverRecordId(taskId, "result")));
  }

  reassign(taskId: string, assignees: Iterable<string>): void {
    const task = this.mustTask(taskId);
    const next = new Set(assignees);
    const version = this.store.nextVersion();
    for (const user of task.assignees) {
      if (!next.has(user)) {
        this.store.revocations.push({ task_id: taskId, user_id: user, version });
        task.past_assignees.add(user);
      }
    }
    for (const user of next) {
      if (!task.assignees.has(user)) {
        this.store.setAssigned(taskId, user, version);
      }
      task.past_assignees.delete(user);
    }
    task.assignees = next;
    task.version = version;
  }

  setStatus(taskId: string, to: string): void {
    const task = this.mustTask(taskId);
    task.status = to;
    task.version = this.store.nextVersion();
  }

  push(clientId: string, raws: readonly string[]): PushOutcome {
    const user = this.devices.get(clientId);
    if (user === undefined) {
      throw new Error(`no device ${clientId}`);
    }
    return new Engine(this.store, this.clock).push({ client_id: clientId, user_id: user }, raws);
  }

  visible(userId: string): Set<string> {
    return new Set(
      [...this.store.tasks.values()].filter((t) => t.assignees.has(userId)).map((t) => t.id),
    );
  }

  pull(clientId: string, cursor: number): Pulled {
    const user = this.devices.get(clientId) ?? "";
    const visible = this.visible(user);
    // a task given to the user after the cursor comes whole, whatever its records' versions
    const arrived = new Set(
      [...visible].filter((t) => (this.store.assignedVersion(t, user) ?? 0) > cursor),
    );
    const wanted = (r: { task_id: string; version: number }): boolean =>
      visible.has(r.task_id) && (r.version > cursor || arrived.has(r.task_id));
    return {
      records: [...this.store.records.values()].filter(wanted).map(copyRecord),
      conflicts: [...this.store.conflicts.values()].filter(wanted).map(copyConflict),
      rejections: this.store.rejections.filter((r) => r.client_id === clientId),
      revocations: this.store.revocations
        .filter((r) => r.user_id === user && r.version > cursor && !visible.has(r.task_id))
        .map((r) => r.task_id),
      tasks: [...this.store.tasks.values()]
        .filter((t) => visible.has(t.id) && t.version > cursor)
        .map(copyTask),
      last_seq: this.store.lastSeq(clientId),
      cursor: this.store.seq,
    };
  }

  contentHash(taskId: string): string {
    const task = this.mustTask(taskId);
    return contentHash(taskId, task.uscc, this.store.recordsOfTask(taskId));
  }

  /** Each live signature of the task: whether the content it covers has changed since. */
  staleSignatures(taskId: string): Map<string, boolean> {
    const current = this.contentHash(taskId);
    const stale = new Map<string, boolean>();
    for (const r of this.store.recordsOfTask(taskId)) {
      if (r.entity === "signature" && !r.deleted) {
        stale.set(r.id, isStale(r, current));
      }
    }
    return stale;
  }

  private mustTask(taskId: string): TaskState {
    const task = this.store.task(taskId);
    if (task === null) {
      throw new Error(`no task ${taskId}`);
    }
    return task;
  }
}

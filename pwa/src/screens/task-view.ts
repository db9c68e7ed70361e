// What the task screen reads: the task, its records as this phone sees them, its conflicts
// and this device's rejected mutations for it.

import { localStatus } from "../commands/guards";
import type { Workspace } from "../commands/workspace";
import type { ConflictRow, Mutation, RejectionRow, TaskRow } from "../db/user-db";
import { type LocalRecord, overlay } from "../db/view";

/** A rejected mutation with what the inspector had entered (from this phone's outbox or sent log). */
export interface RejectedChange extends RejectionRow {
  mutation: Mutation | null;
}

export interface TaskView {
  task: TaskRow;
  status: string;
  records: Map<string, LocalRecord>;
  checkIns: LocalRecord[];
  conflicts: ConflictRow[];
  rejections: RejectedChange[];
  pending: number;
  /** Conflicts this phone has resolved but not yet sent. */
  resolving: Set<string>;
}

export async function taskView(ws: Workspace, taskId: string): Promise<TaskView | null> {
  const task = await ws.db.tasks.get(taskId);
  if (task === undefined) {
    return null;
  }
  const server = await ws.db.records.where("task_id").equals(taskId).toArray();
  const outbox = await ws.db.outbox.where("taskId").equals(taskId).toArray();
  const sent = await ws.db.sent.where("taskId").equals(taskId).toArray();
  const mine = new Set([...outbox, ...sent].map((row) => row.mutation.id));
  const records = overlay(
    server,
    outbox.map((row) => row.mutation),
  );
  const byId = new Map([...outbox, ...sent].map((row) => [row.mutation.id, row.mutation]));
  const rejections = (await ws.db.rejections.where("client_id").equals(ws.deviceId).toArray())
    .filter((r) => r.mutation_id !== null && mine.has(r.mutation_id))
    .map((r) => ({ ...r, mutation: byId.get(r.mutation_id ?? "") ?? null }));
  return {
    task,
    status: await localStatus(ws, task),
    records,
    checkIns: [...records.values()].filter((r) => r.entity === "check_in" && !r.deleted),
    conflicts: await ws.db.conflicts.where("task_id").equals(taskId).toArray(),
    rejections,
    pending: outbox.length,
    resolving: new Set(
      outbox
        .filter((row) => row.mutation.kind === "resolve_conflict")
        .map((row) => row.mutation.entity_id),
    ),
  };
}

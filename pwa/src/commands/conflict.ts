// Resolving a conflict (docs/sync-protocol.md): keep the value that won, or write the other
// one back with an ordinary set; either way a resolve_conflict marks it resolved for everyone.
import type { ConflictRow } from "../db/user-db";
import { type Draft, enqueue } from "./enqueue";
import { editableTask } from "./guards";
import { checkText } from "./text";
import { CommandError, type Workspace } from "./workspace";

export async function resolveConflict(
  ws: Workspace,
  conflict: ConflictRow,
  choice: "keep" | "other",
  note = "",
): Promise<void> {
  if (conflict.status !== "open") {
    throw new CommandError("这个冲突已经处理过了");
  }
  if (choice === "other" && conflict.field === "_deleted") {
    throw new CommandError("删除与修改的冲突只能保留现状；如需删除请重新删除");
  }
  const text = checkText(note.trim(), 500, "处理说明");
  const taskId = conflict.task_id;
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.records, db.outbox, db.meta], async () => {
    await editableTask(ws, taskId);
    const drafts: Draft[] = [];
    if (choice === "other") {
      const record = await db.records.get([conflict.entity, conflict.entity_id]);
      const version = record?.fields[conflict.field]?.version;
      drafts.push({
        kind: "set",
        entity: conflict.entity,
        entity_id: conflict.entity_id,
        task_id: taskId,
        payload: { [conflict.field]: conflict.loser.value },
        base_versions: {
          [conflict.field]: typeof version === "number" ? version : (record?.version ?? 0),
        },
      });
    }
    drafts.push({
      kind: "resolve_conflict",
      entity: "conflict",
      entity_id: conflict.id,
      task_id: taskId,
      payload: text ? { conflict_id: conflict.id, note: text } : { conflict_id: conflict.id },
    });
    await enqueue(ws, drafts);
  });
}

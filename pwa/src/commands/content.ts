// The canonical content a signature covers, over what this phone sees of the task (the same
// definition as the server's, in sync/engine/signing.ts: both run the shared vectors).
import type { LocalRecord } from "../db/view";
import type { JsonValue } from "../sync/engine";
import { contentHash, type SyncRecord } from "../sync/engine";

function asSyncRecord(r: LocalRecord): SyncRecord {
  const fields = new Map(
    Object.entries(r.fields).map(([name, f]) => [
      name,
      {
        value: f.value as JsonValue,
        version: f.version ?? 0,
        hlc: "",
        client_id: "",
        user_id: null,
        mutation_id: null,
      },
    ]),
  );
  return {
    entity: r.entity,
    id: r.id,
    task_id: r.taskId,
    fields,
    version: r.version ?? 0,
    deleted: r.deleted,
    created_by: null,
    deleted_by: null,
  };
}

export function currentContentHash(
  taskId: string,
  uscc: string,
  records: Iterable<LocalRecord>,
): string {
  return contentHash(taskId, uscc, [...records].map(asSyncRecord));
}

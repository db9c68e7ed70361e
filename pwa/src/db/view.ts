// The phone's view of a task: the server's records with this device's pending mutations laid
// over them in seq order. A device never conflicts with its own edits, so its pending values
// are what the inspector sees; the flag says which values the server has not confirmed yet.
import type { Mutation, RecordRow } from "./user-db";

export interface LocalField {
  value: unknown;
  /** The server's version of the field, if the server has it (the base of the next set). */
  version: number | null;
  pending: boolean;
}

export interface LocalRecord {
  entity: string;
  id: string;
  taskId: string;
  version: number | null;
  deleted: boolean;
  pending: boolean;
  fields: Record<string, LocalField>;
}

export function recordKey(entity: string, id: string): string {
  return `${entity}/${id}`;
}

export function overlay(records: RecordRow[], pending: Mutation[]): Map<string, LocalRecord> {
  const view = new Map<string, LocalRecord>();
  for (const r of records) {
    const fields: Record<string, LocalField> = {};
    for (const [name, field] of Object.entries(r.fields)) {
      fields[name] = {
        value: field.value,
        version: typeof field.version === "number" ? field.version : null,
        pending: false,
      };
    }
    view.set(recordKey(r.entity, r.id), {
      entity: r.entity,
      id: r.id,
      taskId: r.task_id,
      version: r.version,
      deleted: r.deleted,
      pending: false,
      fields,
    });
  }
  for (const m of [...pending].sort((a, b) => a.seq - b.seq)) {
    const key = recordKey(m.entity, m.entity_id);
    const current = view.get(key);
    if (m.kind === "create" && current === undefined) {
      view.set(key, {
        entity: m.entity,
        id: m.entity_id,
        taskId: m.task_id,
        version: null,
        deleted: false,
        pending: true,
        fields: pendingFields(m.payload, {}),
      });
    } else if (m.kind === "set" && current !== undefined) {
      current.fields = pendingFields(m.payload, current.fields);
      current.pending = true;
      current.deleted = false;
    } else if (m.kind === "delete" && current !== undefined) {
      current.deleted = true;
      current.pending = true;
    }
  }
  return view;
}

function pendingFields(
  payload: Record<string, unknown>,
  previous: Record<string, LocalField>,
): Record<string, LocalField> {
  const fields = { ...previous };
  for (const [name, value] of Object.entries(payload)) {
    fields[name] = { value, version: previous[name]?.version ?? null, pending: true };
  }
  return fields;
}

export function fieldValue<T>(record: LocalRecord | undefined, name: string, fallback: T): T {
  const field = record?.fields[name];
  return field === undefined || field.value === null ? fallback : (field.value as T);
}

// One user's database on this phone. Server data (what pulls brought) and pending work (the
// outbox and the files not yet confirmed) sit in separate tables; screens read live queries
// over both, and only commands/ and sync/ write.
import Dexie, { type Table } from "dexie";
import type {
  CodeTable,
  MutationResult,
  PulledConflict,
  PulledRecord,
  PulledRejection,
  PulledTask,
} from "../api/types";

export interface TaskRow extends PulledTask {
  /** Revoked (reassigned away) while this phone still held unsynced work for it. */
  readOnly: boolean;
  /** Kept from the first pull that carried them; later pulls send items only once. */
  items: NonNullable<PulledTask["items"]>;
}

export type RecordRow = PulledRecord;
export type ConflictRow = PulledConflict;
export type RejectionRow = PulledRejection & { key: string };

export interface Mutation {
  id: string;
  client_id: string;
  seq: number;
  hlc: string;
  kind: "create" | "set" | "delete" | "transition" | "resolve_conflict";
  entity: string;
  entity_id: string;
  task_id: string;
  payload: Record<string, unknown>;
  base_versions?: Record<string, number>;
  base_version?: number;
}

export interface OutboxRow {
  seq: number;
  taskId: string;
  mutation: Mutation;
  createdAt: string;
  /** The last push's answer for it, if any (the outbox row stays until a pull confirms it). */
  result: MutationResult | null;
}

/** A mutation the server confirmed (a pull's last_seq reached it), kept 30 days for a re-push. */
export interface SentRow extends OutboxRow {
  confirmedAt: string;
}

export type FileKind = "original" | "evidence" | "signature";

export interface FileRow {
  digest: string;
  taskId: string;
  kind: FileKind;
  mediaType: string;
  bytes: ArrayBuffer;
  size: number;
  createdAt: string;
  /** The tus upload's URL once created, so an upload resumes after a restart. */
  uploadUrl: string | null;
  uploaded: number;
  /** Set when the server confirmed it holds these bytes (HEAD by digest or a finished upload). */
  confirmedAt: string | null;
  lastError: string | null;
}

export interface MetaRow {
  key: string;
  value: unknown;
}

export class UserDb extends Dexie {
  tasks!: Table<TaskRow, string>;
  records!: Table<RecordRow, [string, string]>;
  conflicts!: Table<ConflictRow, string>;
  rejections!: Table<RejectionRow, string>;
  codeTables!: Table<CodeTable, string>;
  outbox!: Table<OutboxRow, number>;
  sent!: Table<SentRow, number>;
  files!: Table<FileRow, string>;
  meta!: Table<MetaRow, string>;

  constructor(readonly userId: string) {
    super(`zsjg-user-${userId}`);
    this.version(1).stores({
      tasks: "id, due_on, status",
      records: "[entity+id], task_id, entity",
      conflicts: "id, task_id, status",
      rejections: "key, client_id, seq",
      codeTables: "name",
      outbox: "seq, taskId",
      sent: "seq, taskId, confirmedAt",
      files: "digest, taskId, confirmedAt",
      meta: "key",
    });
  }

  async getMeta<T>(key: string, fallback: T): Promise<T> {
    const row = await this.meta.get(key);
    return row === undefined ? fallback : (row.value as T);
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    await this.meta.put({ key, value });
  }
}

/** Meta keys: the sync state of this user's device. */
export const META = {
  cursor: "cursor",
  lastSeq: "last_seq",
  nextSeq: "next_seq",
  lastHlc: "last_hlc",
  serverEpoch: "server_epoch",
  lastSyncAt: "last_sync_at",
  lastSyncError: "last_sync_error",
  persisted: "storage_persisted",
} as const;

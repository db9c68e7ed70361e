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

/** What the phone knows of a file it holds; the bytes live apart, in `blobs`, so listing and
 * counting files never loads photos into memory. */
export interface FileRow {
  digest: string;
  taskId: string;
  kind: FileKind;
  mediaType: string;
  size: number;
  createdAt: string;
  /** "pending" until the server confirms it holds these bytes (HEAD by digest, or an upload that
   * finished); "refused" when the server turned them down for good (never sent again by itself);
   * "released" when the record was approved and the bytes were let go (the server keeps them). */
  state: "pending" | "confirmed" | "refused" | "released";
  /** The tus upload's URL once created, so an upload resumes after a restart. */
  uploadUrl: string | null;
  uploaded: number;
  confirmedAt: string | null;
  lastError: string | null;
}

export interface BlobRow {
  digest: string;
  bytes: ArrayBuffer;
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
  blobs!: Table<BlobRow, string>;
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
      files: "digest, taskId, state",
      blobs: "digest",
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

/** Keeps a file's bytes and its row (call inside a transaction over files and blobs). */
export async function keepFile(
  db: UserDb,
  file: Pick<FileRow, "digest" | "taskId" | "kind" | "mediaType" | "createdAt">,
  bytes: ArrayBuffer,
): Promise<void> {
  if ((await db.files.get(file.digest)) !== undefined) {
    return; // the same bytes are kept once
  }
  await db.blobs.put({ digest: file.digest, bytes });
  await db.files.put({
    ...file,
    size: bytes.byteLength,
    state: "pending",
    uploadUrl: null,
    uploaded: 0,
    confirmedAt: null,
    lastError: null,
  });
}

export function pendingFiles(db: UserDb) {
  return db.files.where("state").equals("pending");
}

export function refusedFiles(db: UserDb) {
  return db.files.where("state").equals("refused");
}

// The phone's side of docs/sync-protocol.md: push the outbox in seq order, then pull every
// page of one snapshot and apply them in one local transaction. A mutation leaves the outbox
// only when a pull's last_seq reaches it; it is then kept 30 days in `sent` for a server that
// forgets (a new server_epoch, a last_seq that moves backwards, or a push answered with an
// earlier expected_seq), which gets every mutation this phone still holds again.
import { type Api, ApiError, must } from "../api/http";
import type { PullRequest, PullResponse, PushResponse } from "../api/types";
import type { Workspace } from "../commands/workspace";
import { META, type OutboxRow, pendingFiles, type TaskRow, type UserDb } from "../db/user-db";
import { PROTOCOL_VERSION } from "./engine";

export const APP_VERSION = "0.1.0";
const PUSH_BATCH = 100;
const PULL_LIMIT = 500;
const KEEP_SENT_MS = 30 * 24 * 3600 * 1000;

export interface SyncReport {
  pushed: number;
  pulledRecords: number;
  pending: number;
  rejected: number;
}

export class SyncClient {
  constructor(
    private readonly ws: Workspace,
    private readonly api: Api,
  ) {}

  async run(): Promise<SyncReport> {
    const pushed = await this.push();
    const pulledRecords = await this.pull();
    // a pull that revealed a forgetful server re-queued what this phone holds: send it now
    const again = (await this.ws.db.outbox.count()) > 0 ? await this.push() : 0;
    await releaseSettledFiles(this.ws.db);
    await this.ws.db.setMeta(META.lastSyncAt, new Date(this.ws.now()).toISOString());
    await this.ws.db.setMeta(META.lastSyncError, null);
    return {
      pushed: pushed + again,
      pulledRecords,
      pending: await this.ws.db.outbox.count(),
      rejected: await this.ws.db.rejections.where("client_id").equals(this.ws.deviceId).count(),
    };
  }

  /** Sends the outbox in seq order, in batches; answers how many mutations were sent. */
  async push(): Promise<number> {
    const { db } = this.ws;
    let sent = 0;
    let after = 0;
    for (let round = 0; round < 10_000; round++) {
      const batch = await db.outbox.where("seq").above(after).limit(PUSH_BATCH).toArray();
      if (batch.length === 0) {
        return sent;
      }
      const answer: PushResponse = must(
        await this.api.POST("/api/v1/sync/push", {
          body: {
            protocol_version: PROTOCOL_VERSION,
            app_version: APP_VERSION,
            client_id: this.ws.deviceId,
            mutations: batch.map((row) => row.mutation),
            ...(await this.pendingCounts()),
          },
        }),
      );
      sent += batch.length;
      await this.recordResults(batch, answer);
      const first = batch[0]?.seq ?? 0;
      if (answer.expected_seq !== null && answer.expected_seq < first) {
        // the server lost what it had confirmed: send again from where it stands
        if ((await this.requeue(answer.expected_seq)) === 0) {
          throw new MissingHistory(answer.expected_seq, first);
        }
        after = answer.expected_seq - 1;
      } else if (answer.expected_seq !== null) {
        return sent; // a gap this phone cannot fill; the next pull tells more
      } else {
        after = batch[batch.length - 1]?.seq ?? after;
      }
    }
    return sent;
  }

  private async pendingCounts(): Promise<{
    pending_mutations: number;
    pending_files: number;
    oldest_pending_at: string | null;
  }> {
    const { db } = this.ws;
    const oldest = await db.outbox.orderBy("seq").first();
    return {
      pending_mutations: await db.outbox.count(),
      pending_files: await pendingFiles(db).count(),
      oldest_pending_at: oldest ? oldest.createdAt : null,
    };
  }

  private async recordResults(batch: OutboxRow[], answer: PushResponse): Promise<void> {
    const byId = new Map(answer.results.map((r) => [r.mutation_id, r]));
    const { db } = this.ws;
    await db.transaction("rw", db.outbox, async () => {
      for (const row of batch) {
        const result = byId.get(row.mutation.id);
        if (result !== undefined) {
          await db.outbox.update(row.seq, { result });
        }
      }
    });
  }

  /** Moves confirmed mutations from `sent` back into the outbox, from `fromSeq` on; answers how many. */
  private async requeue(fromSeq: number): Promise<number> {
    const { db } = this.ws;
    return db.transaction("rw", [db.outbox, db.sent], async () => {
      const rows = await db.sent
        .where("seq")
        .between(fromSeq, Number.MAX_SAFE_INTEGER, true, true)
        .toArray();
      const held = new Set((await db.outbox.toArray()).map((row) => row.seq));
      const missing = rows.filter((row) => !held.has(row.seq));
      for (const { confirmedAt: _, ...row } of missing) {
        await db.outbox.put({ ...row, result: null });
      }
      await db.sent.where("seq").aboveOrEqual(fromSeq).delete();
      return missing.length;
    });
  }

  /** Pulls every page of one snapshot and applies them together; answers how many records came. */
  async pull(): Promise<number> {
    const { db } = this.ws;
    let cursor = await db.getMeta<number>(META.cursor, 0);
    let origin = cursor;
    const versions = Object.fromEntries(
      (await db.codeTables.toArray()).map((t) => [t.name, t.version]),
    );
    let pages: PullResponse[] = [];
    let reset = false;
    let until: number | null = null;
    for (let round = 0; round < 100_000; round++) {
      const request: PullRequest = {
        protocol_version: PROTOCOL_VERSION,
        app_version: APP_VERSION,
        client_id: this.ws.deviceId,
        cursor,
        limit: PULL_LIMIT,
        until,
        origin: until === null ? null : origin,
        code_table_versions: reset ? {} : versions,
      };
      const page: PullResponse = must(await this.api.POST("/api/v1/sync/pull", { body: request }));
      if (page.reset) {
        // the server answered with the first page of a snapshot from 0: start over from it;
        // what this phone holds is replaced only once every page is in (one transaction)
        reset = true;
        pages = [];
        origin = 0;
      }
      pages.push(page);
      until = page.until;
      cursor = page.next_cursor;
      if (!page.has_more) {
        break;
      }
    }
    await applyPages(this.ws, pages, reset);
    return pages.reduce((n, p) => n + p.records.length, 0);
  }
}

async function applyPages(ws: Workspace, pages: PullResponse[], reset: boolean): Promise<void> {
  const { db } = ws;
  const last = pages[pages.length - 1];
  if (last === undefined) {
    return;
  }
  const tables = [
    db.tasks,
    db.records,
    db.conflicts,
    db.rejections,
    db.codeTables,
    db.outbox,
    db.sent,
    db.files,
    db.meta,
  ];
  await db.transaction("rw", tables, async () => {
    await confirm(ws, last);
    if (reset) {
      await forgetServerData(ws);
    }
    for (const page of pages) {
      const known = await db.tasks.bulkGet(page.tasks.map((task) => task.id));
      await db.tasks.bulkPut(
        page.tasks.map(
          (task, i) =>
            ({ ...task, items: task.items ?? known[i]?.items ?? [], readOnly: false }) as TaskRow,
        ),
      );
      await db.records.bulkPut(page.records);
      await db.conflicts.bulkPut(page.conflicts);
      await db.rejections.bulkPut(
        page.rejections.map((r) => ({ ...r, key: `${r.client_id}/${r.seq ?? r.mutation_id}` })),
      );
      if (page.code_tables) {
        await db.codeTables.bulkPut(page.code_tables);
      }
      for (const taskId of page.revocations) {
        await revoke(ws, taskId);
      }
    }
    // a task revoked earlier whose pending work has now reached the server goes too
    for (const task of await db.tasks.filter((t) => t.readOnly).toArray()) {
      await revoke(ws, task.id);
    }
    await db.setMeta(META.cursor, last.next_cursor);
  });
}

/**
 * Before a snapshot from 0 is applied: the server's data goes, except the tasks this phone still
 * holds pending work for (the snapshot brings them back, or they stay read-only as revoked).
 */
async function forgetServerData(ws: Workspace): Promise<void> {
  const { db } = ws;
  const pending = new Set((await db.outbox.toArray()).map((row) => row.taskId));
  await db.tasks.filter((t) => !pending.has(t.id)).delete();
  await db.tasks.toCollection().modify({ readOnly: true });
  await db.records.filter((r) => !pending.has(r.task_id)).delete();
  await db.conflicts.clear();
}

/** A task no longer assigned to this user: purged when nothing of it is pending, else read-only. */
async function revoke(ws: Workspace, taskId: string): Promise<void> {
  const { db } = ws;
  const pending = await db.outbox.where("taskId").equals(taskId).count();
  if (pending > 0) {
    await db.tasks.update(taskId, { readOnly: true });
    return;
  }
  await db.tasks.delete(taskId);
  await db.records.where("task_id").equals(taskId).delete();
  await db.conflicts.where("task_id").equals(taskId).delete();
}

/** Statuses after a lead's approval: the server holds the record's files for good. */
const SETTLED = ["approved", "forwarded", "published"];

/**
 * Lets go of the bytes of files the server has confirmed for records a lead approved
 * (docs/sync-protocol.md: media are kept until the record is approved), so a phone that
 * inspects every day does not fill up. Files still pending (an original waiting for Wi-Fi)
 * stay until they are uploaded. Answers how many files were released.
 */
export async function releaseSettledFiles(db: UserDb): Promise<number> {
  return db.transaction("rw", [db.tasks, db.files, db.blobs], async () => {
    const settled = new Set(await db.tasks.where("status").anyOf(SETTLED).primaryKeys());
    if (settled.size === 0) {
      return 0;
    }
    const files = await db.files
      .where("state")
      .equals("confirmed")
      .filter((file) => settled.has(file.taskId))
      .toArray();
    await db.blobs.bulkDelete(files.map((file) => file.digest));
    await db.files.bulkPut(files.map((file) => ({ ...file, state: "released" as const })));
    return files.length;
  });
}

/** Moves what the server confirmed (seq ≤ last_seq) out of the outbox; notices a forgetful server. */
async function confirm(ws: Workspace, page: PullResponse): Promise<void> {
  const { db } = ws;
  const now = ws.now();
  const previousEpoch = await db.getMeta<string | null>(META.serverEpoch, null);
  const previousLastSeq = await db.getMeta<number>(META.lastSeq, 0);
  const forgot =
    (previousEpoch !== null && previousEpoch !== page.server_epoch) ||
    page.last_seq < previousLastSeq;
  if (forgot) {
    // the restored server may lack files it had confirmed: check each again (HEAD by digest)
    await db.files
      .where("state")
      .equals("confirmed")
      .modify({ state: "pending", uploadUrl: null, uploaded: 0, confirmedAt: null });
    for (const { confirmedAt: _, ...row } of await db.sent
      .where("seq")
      .above(page.last_seq)
      .toArray()) {
      await db.outbox.put({ ...row, result: null });
    }
    await db.sent.where("seq").above(page.last_seq).delete();
  }
  const done = await db.outbox.where("seq").belowOrEqual(page.last_seq).toArray();
  const confirmedAt = new Date(now).toISOString();
  await db.sent.bulkPut(done.map((row) => ({ ...row, confirmedAt })));
  await db.outbox.where("seq").belowOrEqual(page.last_seq).delete();
  await db.sent
    .where("confirmedAt")
    .below(new Date(now - KEEP_SENT_MS).toISOString())
    .delete();
  await db.setMeta(META.serverEpoch, page.server_epoch);
  await db.setMeta(META.lastSeq, page.last_seq);
}

/**
 * The server expects a seq this phone no longer holds (it forgot more than the phone keeps):
 * pushing again cannot help, so the sync stops and says so instead of sending in a loop.
 */
export class MissingHistory extends Error {
  constructor(
    readonly expected: number,
    readonly held: number,
  ) {
    super(
      `服务器缺少本机第 ${expected}–${held - 1} 项修改，本机已不再保存；请联系运维处理（待上传的内容仍保留在本机）`,
    );
    this.name = "MissingHistory";
  }
}

export function describeSyncError(error: unknown): string {
  if (error instanceof MissingHistory) {
    return error.message;
  }
  if (error instanceof ApiError) {
    if (error.offline) {
      return "没有网络，稍后自动重试";
    }
    if (error.status === 401) {
      return "登录已过期，请重新登录；未同步的内容保留在本机";
    }
    if (error.status === 503) {
      return "服务器正忙，稍后自动重试";
    }
    return `同步失败：${error.message}`;
  }
  return `同步失败：${String(error)}`;
}

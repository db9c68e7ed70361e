// One sync at a time per user across tabs and the service worker (a Web Lock); the others
// skip rather than queue, since the running one sends and fetches everything.
import type { Workspace } from "../commands/workspace";
import { META } from "../db/user-db";
import type { Session } from "../session";
import { describeSyncError, SyncClient, type SyncReport } from "./client";

export type RunResult =
  | { ok: true; report: SyncReport }
  | { ok: false; error: string }
  | { ok: null };

/** Pushes and pulls (then runs `after`, e.g. the uploads) unless another sync is running. */
export async function syncNow(
  ws: Workspace,
  session: Session,
  after: () => Promise<unknown> = async () => undefined,
  options: { wait?: boolean; onStart?: () => void } = {},
): Promise<RunResult> {
  const run = async (): Promise<RunResult> => {
    options.onStart?.();
    try {
      const report = await new SyncClient(ws, session.api).run();
      await after();
      return { ok: true, report };
    } catch (error) {
      const message = describeSyncError(error);
      await ws.db.setMeta(META.lastSyncError, message);
      return { ok: false, error: message };
    }
  };
  if (typeof navigator === "undefined" || !navigator.locks) {
    return run();
  }
  const name = `zsjg-sync-${ws.userId}`;
  if (options.wait) {
    // the service worker's Background Sync: the running sync (a page's) may have the network
    // only half back; wait for it, then sync again, rather than report a sync that did not happen
    return navigator.locks.request(name, run);
  }
  return navigator.locks.request(name, { ifAvailable: true }, async (lock) =>
    lock === null ? { ok: null } : run(),
  );
}

/** Users for whom this tab has a sync waiting for the lock. */
const queued = new Set<string>();

/**
 * Syncs now; when a sync is already running (in this tab, another, or the service worker), it
 * may have read the outbox before the newest change was written, so one more sync waits for
 * it and then sends what is left. More calls meanwhile add nothing — that waiting sync reads
 * the outbox when it starts; a call once it has started queues the next one.
 */
export async function syncSoon(ws: Workspace, session: Session): Promise<RunResult> {
  const now = await syncNow(ws, session);
  if (now.ok !== null || queued.has(ws.userId)) {
    return now;
  }
  queued.add(ws.userId);
  let started = false;
  try {
    return await syncNow(ws, session, undefined, {
      wait: true,
      onStart: () => {
        started = true;
        queued.delete(ws.userId); // from now on a change may need a sync after this one
      },
    });
  } finally {
    if (!started) {
      queued.delete(ws.userId);
    }
  }
}

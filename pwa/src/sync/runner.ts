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
): Promise<RunResult> {
  const run = async (): Promise<RunResult> => {
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
  return navigator.locks.request(`zsjg-sync-${ws.userId}`, { ifAvailable: true }, async (lock) =>
    lock === null ? { ok: null } : run(),
  );
}

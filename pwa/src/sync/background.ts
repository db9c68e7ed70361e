/// <reference lib="webworker" />
// Background Sync (where the browser has it): the service worker sends the outbox of the
// user signed in last, even when no page of the app is open.
import { AppDb } from "../db/app-db";
import { UserDb } from "../db/user-db";
import { resume } from "../session";
import { syncNow } from "./runner";

export async function runBackgroundSync(_scope: ServiceWorkerGlobalScope): Promise<void> {
  const appDb = new AppDb();
  const session = await resume(appDb);
  if (session === null || !session.signedIn) {
    return;
  }
  const db = new UserDb(session.account.userId);
  try {
    const result = await syncNow(
      { db, userId: session.account.userId, deviceId: session.account.deviceId, now: Date.now },
      session,
      async () => undefined,
      { wait: true },
    );
    if (result.ok === false) {
      throw new Error(result.error); // the browser tries the sync event again later
    }
  } finally {
    db.close();
    appDb.close();
  }
}

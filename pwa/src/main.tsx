import { render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Workspace } from "./commands/workspace";
import { AppDb } from "./db/app-db";
import { pendingFiles, UserDb } from "./db/user-db";
import { uploadPending } from "./media/uploads";
import { Credential } from "./screens/Credential";
import { Login } from "./screens/Login";
import { Review } from "./screens/Review";
import { Settings } from "./screens/Settings";
import { SyncScreen } from "./screens/SyncScreen";
import { TaskDetail } from "./screens/TaskDetail";
import { TaskList } from "./screens/TaskList";
import { CURRENT, signOut as endSession, forgetDevice, resume, type Session } from "./session";
import { syncSoon } from "./sync/runner";
import { AppContext } from "./ui/app-context";
import { useLive } from "./ui/live";
import { registerServiceWorker, UpdateBanner } from "./ui/update";
import "./ui/styles.css";

const appDb = new AppDb();
const SYNC_EVERY_MS = 60_000;

type BackgroundSyncRegistration = ServiceWorkerRegistration & {
  sync?: { register(tag: string): Promise<void> };
};

function useRoute(): string {
  const [route, setRoute] = useState(location.hash.slice(1) || "/");
  useEffect(() => {
    const changed = () => {
      setRoute(location.hash.slice(1) || "/");
      window.scrollTo(0, 0);
    };
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function SignedIn({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  const ws = useRef<Workspace>({
    db: new UserDb(session.account.userId),
    userId: session.account.userId,
    deviceId: session.account.deviceId,
    now: Date.now,
  }).current;
  const [syncing, setSyncing] = useState(false);
  const calls = useRef(0); // syncs asked for in this tab and not yet answered
  const route = useRoute();

  const sync = useCallback(async () => {
    if (!navigator.onLine || !session.signedIn) {
      return;
    }
    calls.current += 1;
    setSyncing(true);
    try {
      // a sync already running may have pushed before this change was written: syncSoon
      // queues one more after it
      await syncSoon(ws, session);
    } finally {
      calls.current -= 1;
      setSyncing(calls.current > 0);
    }
    // files go under a lock of their own: a slow upload never holds up the next push
    void uploadPending(ws, session).catch((error: unknown) => console.error("upload", error));
  }, [ws, session]);

  useEffect(() => {
    void navigator.storage?.persist?.();
    void sync();
    const timer = setInterval(() => void sync(), SYNC_EVERY_MS);
    const visible = () => document.visibilityState === "visible" && void sync();
    const online = () => void sync();
    document.addEventListener("visibilitychange", visible);
    window.addEventListener("online", online);
    // Background Sync sends the outbox later even if the page is closed (where the browser has it)
    const askBackgroundSync = () => {
      void navigator.serviceWorker?.ready
        .then((r) => (r as BackgroundSyncRegistration).sync?.register("zsjg-sync"))
        .catch(() => undefined);
    };
    ws.db.outbox.hook("creating", askBackgroundSync);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", visible);
      window.removeEventListener("online", online);
      ws.db.outbox.hook("creating").unsubscribe(askBackgroundSync);
    };
  }, [sync, ws]);

  const signOut = async (erase: boolean) => {
    const pending = (await ws.db.outbox.count()) + (await pendingFiles(ws.db).count());
    if (erase && pending > 0) {
      return; // never discard unsynced work
    }
    await endSession(appDb, session);
    ws.db.close();
    if (erase) {
      await ws.db.delete();
      await forgetDevice(appDb, session.account.username);
    }
    onSignedOut();
  };

  const task = /^\/task\/([0-9a-f-]{36})$/.exec(route);
  const review = /^\/task\/([0-9a-f-]{36})\/review$/.exec(route);
  return (
    <AppContext.Provider value={{ appDb, session, ws, sync, syncing, signOut }}>
      <UpdateBanner />
      {!session.signedIn && (
        <p class="notice warn">
          登录已过期：本机内容保留，请
          <button type="button" onClick={onSignedOut}>
            重新登录
          </button>
          后同步。
        </p>
      )}
      <div class="screen">
        {review?.[1] ? (
          <Review taskId={review[1]} />
        ) : task?.[1] ? (
          <TaskDetail taskId={task[1]} />
        ) : route === "/sync" ? (
          <SyncScreen />
        ) : route === "/settings" ? (
          <Settings />
        ) : route === "/credential" ? (
          <Credential />
        ) : (
          <TaskList />
        )}
      </div>
      <nav class="tabs">
        <a href="#/" class={route === "/" || task || review ? "on" : ""}>
          任务
        </a>
        <a href="#/sync" class={route === "/sync" ? "on" : ""}>
          同步
        </a>
        <a href="#/settings" class={route === "/settings" ? "on" : ""}>
          设置
        </a>
      </nav>
    </AppContext.Provider>
  );
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    void resume(appDb).then(setSession);
  }, []);
  // every tab follows who is signed in: a sign-out or another user's sign-in in one tab
  // closes the previous user's screens in all of them
  const current = useLive(
    async () => (await appDb.settings.get(CURRENT))?.value ?? null,
    [],
    undefined as string | null | undefined,
  );
  useEffect(() => {
    if (current === undefined || session === undefined) {
      return;
    }
    if (current !== (session?.account.username ?? null)) {
      void resume(appDb).then(setSession);
    }
  }, [current, session]);
  if (session === undefined) {
    return <p class="boot">正在打开掌上监管…</p>;
  }
  if (session === null) {
    return <Login appDb={appDb} onSignedIn={setSession} />;
  }
  return (
    <SignedIn key={session.account.userId} session={session} onSignedOut={() => setSession(null)} />
  );
}

registerServiceWorker();
const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}

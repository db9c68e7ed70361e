import { META, pendingFiles } from "../db/user-db";
import { useApp } from "../ui/app-context";
import { dateTime } from "../ui/format";
import { useLive } from "../ui/live";
import { useOnline } from "../ui/online";

/** One line under a screen's title: online or not, pending count, last sync, a sync button. */
export function SyncLine() {
  const { ws, sync, syncing } = useApp();
  const state = useLive(
    async () => ({
      pending: await ws.db.outbox.count(),
      files: await pendingFiles(ws.db).count(),
      lastSyncAt: await ws.db.getMeta<string | null>(META.lastSyncAt, null),
      error: await ws.db.getMeta<string | null>(META.lastSyncError, null),
    }),
    [ws],
    null,
  );
  const online = useOnline();
  return (
    <div class="syncline">
      <span class={online ? "dot online" : "dot offline"} />
      <span class="grow small">
        {online ? "在线" : "离线"}
        {state === null
          ? " · 正在统计…"
          : state.pending + state.files === 0
            ? " · 无待同步"
            : ` · 待同步 ${state.pending} 项${state.files > 0 ? `、文件 ${state.files} 个` : ""}`}
        {state !== null && ` · 上次同步 ${dateTime(state.lastSyncAt)}`}
        {state?.error && <span class="error block">{state.error}</span>}
      </span>
      <button type="button" onClick={() => void sync()} disabled={syncing}>
        {syncing ? "同步中…" : "立即同步"}
      </button>
    </div>
  );
}

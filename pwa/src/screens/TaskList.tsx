import { EDITABLE } from "../commands/guards";
import type { Workspace } from "../commands/workspace";
import { pendingFiles, type TaskRow } from "../db/user-db";
import { fieldValue, type LocalRecord, overlay } from "../db/view";
import { type Light, lightOf } from "../deadlines/lights";
import { useApp } from "../ui/app-context";
import { dateTime, STATUS_TEXT, timeLeft } from "../ui/format";
import { useLive } from "../ui/live";
import { SyncLine } from "./SyncLine";

interface Row {
  task: TaskRow;
  /** The status as this phone sees it: the server's, moved on by pending transitions. */
  status: string;
  pending: number;
  files: number;
  light: Light;
}

/** The light from the server's deadline instants and what this phone knows of the work. */
function lightFor(
  task: TaskRow,
  status: string,
  checkedInAt: string | null,
  result: LocalRecord | undefined,
  now: number,
): Light {
  return lightOf(
    {
      status,
      due_at: task.deadlines.due_at ?? `${task.due_on}T23:59:59+08:00`,
      entry_deadline_at: task.deadlines.entry_deadline_at,
      publication_deadline_at: task.deadlines.publication_deadline_at,
      checked_in_at: checkedInAt,
      checked_at: fieldValue<string | null>(result, "checked_at", null),
      results_entered_at: fieldValue<string | null>(result, "entered_at", null),
    },
    now,
  );
}

async function rows(ws: Workspace): Promise<Row[]> {
  const tasks = await ws.db.tasks.orderBy("due_on").toArray();
  const outbox = await ws.db.outbox.orderBy("seq").toArray();
  const files = await pendingFiles(ws.db).toArray();
  const checkIns = await ws.db.records.where("entity").equals("check_in").toArray();
  const results = await ws.db.records.where("entity").equals("result").toArray();
  const now = ws.now();
  return tasks.map((task) => {
    const mine = outbox.filter((o) => o.taskId === task.id).map((o) => o.mutation);
    const status = mine.reduce(
      (current, m) => (m.kind === "transition" ? String(m.payload.to) : current),
      task.status,
    );
    const checkedInAt =
      (checkIns.find((c) => c.task_id === task.id)?.fields.at?.value as string | undefined) ??
      (mine.find((m) => m.entity === "check_in")?.payload.at as string | undefined) ??
      null;
    const view = overlay(
      results.filter((r) => r.task_id === task.id),
      mine.filter((m) => m.entity === "result"),
    );
    return {
      task,
      status,
      pending: mine.length,
      files: files.filter((f) => f.taskId === task.id).length,
      light: lightFor(task, status, checkedInAt, [...view.values()][0], now),
    };
  });
}

export function TaskList() {
  const { ws } = useApp();
  const list = useLive(() => rows(ws), [ws], null);
  const now = ws.now();
  const todo = list?.filter((r) => EDITABLE.has(r.status)) ?? [];
  const done = list?.filter((r) => !EDITABLE.has(r.status)) ?? [];
  return (
    <main>
      <header class="bar">
        <h1>我的任务</h1>
        <SyncLine />
      </header>
      {list === null && <p class="muted pad">正在读取本机数据…</p>}
      {list !== null && list.length === 0 && (
        <p class="muted pad">本机还没有任务。联网后点“立即同步”下载分配给您的任务。</p>
      )}
      {todo.length > 0 && <h2 class="pad section">待办（{todo.length}）</h2>}
      <TaskCards rows={todo} />
      {done.length > 0 && <h2 class="pad section">已提交（{done.length}）</h2>}
      <TaskCards rows={done} />
      {list !== null && list.length > 0 && (
        <p class="muted small pad">按截止日期排序 · 数据更新于 {dateTime(now)}</p>
      )}
    </main>
  );
}

function TaskCards({ rows }: { rows: Row[] }) {
  return (
    <ul class="tasks">
      {rows.map(({ task, status, pending, files, light }) => (
        <li key={task.id}>
          <a class="task card" href={`#/task/${task.id}`}>
            <span
              class={`light ${light.color}`}
              role="img"
              title={light.reason}
              aria-label={light.reason}
            />
            <div class="grow">
              <div class="title">{task.object.name}</div>
              <div class="muted small">{task.name}</div>
              <div class="small">
                {STATUS_TEXT[status] ?? status} · 截止 {task.due_on}{" "}
                <span class={`left ${light.color}`}>{timeLeft(light.secondsLeft)}</span>
              </div>
            </div>
            <SyncBadge pending={pending} files={files} readOnly={task.readOnly} />
          </a>
        </li>
      ))}
    </ul>
  );
}

export function SyncBadge({
  pending,
  files,
  readOnly,
}: {
  pending: number;
  files: number;
  readOnly: boolean;
}) {
  if (readOnly) {
    return <span class="badge warn">已改派</span>;
  }
  if (pending + files > 0) {
    return <span class="badge pending">待同步 {pending + files}</span>;
  }
  return <span class="badge ok">已同步</span>;
}

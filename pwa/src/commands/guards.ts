import type { TaskRow } from "../db/user-db";
import { EDITABLE } from "../sync/engine";
import type { Workspace } from "./workspace";
import { CommandError } from "./workspace";

/** Field edits apply while a task is assigned, in progress, returned or reopened (the engine's rule). */
export { EDITABLE };

export async function editableTask(ws: Workspace, taskId: string): Promise<TaskRow> {
  const task = await ws.db.tasks.get(taskId);
  if (task === undefined) {
    throw new CommandError("这项任务不在本机上，请先同步");
  }
  if (task.readOnly) {
    throw new CommandError("这项任务已改派给他人，本机只读；未同步的内容会继续上传");
  }
  const status = await localStatus(ws, task);
  if (!EDITABLE.has(status)) {
    throw new CommandError("任务已提交，不能再修改；如需更正请联系组长退回");
  }
  return task;
}

/** The status the phone shows: the server's, moved on by this device's pending transitions. */
export async function localStatus(ws: Workspace, task: TaskRow): Promise<string> {
  const pending = await ws.db.outbox.where("taskId").equals(task.id).toArray();
  let status = task.status;
  for (const row of pending) {
    if (row.mutation.kind === "transition") {
      status = String(row.mutation.payload.to);
    }
  }
  return status;
}

// On site: check-in (time, GPS with its accuracy, or the reason there is none), which also
// starts the task; and the submit at the end.
import { type Draft, enqueue } from "./enqueue";
import { EDITABLE, editableTask, localStatus } from "./guards";
import { checkText } from "./text";
import { CommandError, type Workspace } from "./workspace";

export interface Position {
  latitude: number;
  longitude: number;
  accuracyM: number;
}

/** Coordinates travel as strings with six decimals: canonical content has no floats. */
export function coordinate(value: number, limit: number): string {
  if (!Number.isFinite(value) || Math.abs(value) > limit) {
    throw new CommandError("定位数据无效");
  }
  return value.toFixed(6);
}

export async function checkIn(
  ws: Workspace,
  taskId: string,
  where: { position: Position } | { noGpsReason: string },
): Promise<string> {
  const payload: Record<string, unknown> = {
    at: new Date(ws.now()).toISOString(),
    inspector_id: ws.userId,
  };
  if ("position" in where) {
    payload.latitude = coordinate(where.position.latitude, 90);
    payload.longitude = coordinate(where.position.longitude, 180);
    payload.accuracy_m = Math.min(100_000, Math.max(0, Math.round(where.position.accuracyM)));
  } else {
    const reason = where.noGpsReason.trim();
    if (reason === "") {
      throw new CommandError("没有定位时请写明原因");
    }
    payload.no_gps_reason = checkText(reason, 500, "无定位原因");
  }
  const id = crypto.randomUUID();
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.outbox, db.meta], async () => {
    const task = await editableTask(ws, taskId);
    const drafts: Draft[] = [
      { kind: "create", entity: "check_in", entity_id: id, task_id: taskId, payload },
    ];
    if ((await localStatus(ws, task)) === "assigned") {
      drafts.push(transition(taskId, "in_progress"));
    }
    await enqueue(ws, drafts);
  });
  return id;
}

export async function submitTask(ws: Workspace, taskId: string): Promise<void> {
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.outbox, db.meta], async () => {
    const task = await db.tasks.get(taskId);
    if (task === undefined) {
      throw new CommandError("这项任务不在本机上");
    }
    const status = await localStatus(ws, task);
    if (!EDITABLE.has(status) || status === "assigned") {
      throw new CommandError(status === "assigned" ? "请先签到开始检查" : "任务已经提交");
    }
    await enqueue(ws, [transition(taskId, "submitted")]);
  });
}

function transition(taskId: string, to: string): Draft {
  return {
    kind: "transition",
    entity: "task",
    entity_id: taskId,
    task_id: taskId,
    payload: { to },
  };
}

// 是否符合 and 问题描述 of one checklist point (a server-made check_item record).

import { enqueue } from "./enqueue";
import { editableTask } from "./guards";
import { checkText } from "./text";
import type { Workspace } from "./workspace";
import { CommandError } from "./workspace";

export interface CheckItemEdit {
  conforms?: boolean | null;
  problem_text?: string | null;
}

export async function setCheckItem(
  ws: Workspace,
  taskId: string,
  checkItemId: string,
  edit: CheckItemEdit,
): Promise<void> {
  const payload: Record<string, unknown> = {};
  if (edit.conforms !== undefined) {
    payload.conforms = edit.conforms;
  }
  if (edit.problem_text !== undefined) {
    const text = edit.problem_text === null ? null : edit.problem_text.trim();
    payload.problem_text = text === "" ? null : checkText(text, 2000, "问题描述");
  }
  if (Object.keys(payload).length === 0) {
    throw new CommandError("没有要保存的内容");
  }
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.records, db.outbox, db.meta], async () => {
    await editableTask(ws, taskId);
    const record = await db.records.get(["check_item", checkItemId]);
    if (record === undefined || record.task_id !== taskId) {
      throw new CommandError("找不到这个检查要点，请先同步任务");
    }
    const base: Record<string, number> = {};
    for (const name of Object.keys(payload)) {
      const version = record.fields[name]?.version;
      base[name] = typeof version === "number" ? version : record.version;
    }
    await enqueue(ws, [
      {
        kind: "set",
        entity: "check_item",
        entity_id: checkItemId,
        task_id: taskId,
        payload,
        base_versions: base,
      },
    ]);
  });
}

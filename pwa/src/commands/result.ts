// 检查结果 (the result categories and 核查方式 on the task's server-made result record) and
// 后续处置 (follow-up measures; one that refers the case — 抄告 / 移送 — carries a referral
// naming the department and what was found). The choices come from the server's code tables.
import type { CodeTable } from "../api/types";
import { fieldValue, overlay } from "../db/view";
import { type Draft, enqueue } from "./enqueue";
import { editableTask } from "./guards";
import { checkText } from "./text";
import { CommandError, type Workspace } from "./workspace";

export interface ResultEntry {
  code: string;
  text: string;
  exclusive?: boolean;
  excludes?: string[];
  active?: boolean;
}

export interface MeasureEntry extends ResultEntry {
  referral: { kind: "抄告" | "移送"; target: string } | null;
  requires_text?: boolean;
}

export function entries<T extends ResultEntry>(table: CodeTable | undefined): T[] {
  return ((table?.entries ?? []) as unknown as T[]).filter((e) => e.active !== false);
}

/** The categories' own rules: an exclusive code stands alone; some codes exclude others. */
export function checkCategories(chosen: string[], table: ResultEntry[]): void {
  const byCode = new Map(table.map((e) => [e.code, e]));
  for (const code of chosen) {
    const entry = byCode.get(code);
    if (entry === undefined) {
      throw new CommandError(`检查结果代码 ${code} 不在代码表中，请先同步`);
    }
    if (entry.exclusive && chosen.length > 1) {
      throw new CommandError(`“${entry.text}”不能与其他结果同时选择`);
    }
    const clash = chosen.find((other) => entry.excludes?.includes(other));
    if (clash !== undefined) {
      throw new CommandError(`“${entry.text}”与“${byCode.get(clash)?.text ?? clash}”不能同时选择`);
    }
  }
}

export async function setResult(
  ws: Workspace,
  taskId: string,
  resultId: string,
  base: Record<string, number>,
  fields: { categories?: string[]; verification_methods?: string[]; checked_at?: string },
  table: ResultEntry[],
): Promise<void> {
  if (fields.categories !== undefined) {
    checkCategories(fields.categories, table);
  }
  const payload: Record<string, unknown> = { ...fields };
  if (fields.categories !== undefined) {
    payload.entered_at = new Date(ws.now()).toISOString();
  }
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.outbox, db.meta], async () => {
    await editableTask(ws, taskId);
    const base_versions: Record<string, number> = {};
    for (const name of Object.keys(payload)) {
      base_versions[name] = base[name] ?? base._record ?? 0;
    }
    await enqueue(ws, [
      {
        kind: "set",
        entity: "result",
        entity_id: resultId,
        task_id: taskId,
        payload,
        base_versions,
      },
    ]);
  });
}

/** Follow-up measures follow the same table rules as results, and none is chosen twice. */
export function checkMeasures(codes: string[], table: ResultEntry[]): void {
  const seen = new Set<string>();
  for (const code of codes) {
    if (seen.has(code)) {
      const text = table.find((e) => e.code === code)?.text ?? code;
      throw new CommandError(`“${text}”已经添加过了`);
    }
    seen.add(code);
  }
  checkCategories(codes, table);
}

export async function addMeasure(
  ws: Workspace,
  taskId: string,
  measure: MeasureEntry,
  detail: { text: string; target: string; findings: string },
  chosen: { table: MeasureEntry[] },
): Promise<string> {
  const text = checkText(detail.text.trim(), 2000, "处置说明") || null;
  if (measure.requires_text && !text) {
    throw new CommandError(`“${measure.text}”需要填写说明`);
  }
  const measureId = crypto.randomUUID();
  const drafts: Draft[] = [
    {
      kind: "create",
      entity: "measure",
      entity_id: measureId,
      task_id: taskId,
      payload: { code: measure.code, text, state: "未完结" },
    },
  ];
  if (measure.referral !== null) {
    const target = checkText(detail.target.trim(), 200, "接收部门");
    const findings = checkText(detail.findings.trim(), 2000, "发现的问题");
    if (!target || !findings) {
      throw new CommandError(`${measure.referral.kind}需要填写接收部门和发现的问题`);
    }
    drafts.push({
      kind: "create",
      entity: "referral",
      entity_id: crypto.randomUUID(),
      task_id: taskId,
      payload: { kind: measure.referral.kind, target, findings, measure_id: measureId },
    });
  }
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.records, db.outbox, db.meta], async () => {
    await editableTask(ws, taskId);
    // the measures as they stand now (a second tap must not slip past the first)
    const view = overlay(
      await db.records
        .where("task_id")
        .equals(taskId)
        .filter((r) => r.entity === "measure")
        .toArray(),
      (await db.outbox.where("taskId").equals(taskId).toArray())
        .map((row) => row.mutation)
        .filter((m) => m.entity === "measure"),
    );
    const live = [...view.values()].filter((r) => !r.deleted).map((r) => fieldValue(r, "code", ""));
    checkMeasures([...live, measure.code], chosen.table);
    await enqueue(ws, drafts);
  });
  return measureId;
}

export async function removeMeasure(
  ws: Workspace,
  taskId: string,
  measure: { id: string; version: number | null },
  referrals: { id: string; version: number | null }[],
): Promise<void> {
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.outbox, db.meta], async () => {
    await editableTask(ws, taskId);
    await enqueue(ws, [
      ...referrals.map((r) => ({
        kind: "delete" as const,
        entity: "referral",
        entity_id: r.id,
        task_id: taskId,
        payload: {},
        base_version: r.version ?? 0,
      })),
      {
        kind: "delete",
        entity: "measure",
        entity_id: measure.id,
        task_id: taskId,
        payload: {},
        base_version: measure.version ?? 0,
      },
    ]);
  });
}

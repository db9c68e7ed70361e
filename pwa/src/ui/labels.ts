// Records, fields and values in the inspector's words (conflicts and rejected changes).
import type { Mutation } from "../db/user-db";

export const REASON_TEXT: Record<string, string> = {
  invalid: "内容不符合要求",
  unauthorized: "无权修改这项任务",
  unknown_task: "服务器上没有这项任务",
  unknown_entity: "无法识别的内容类型",
  unknown_record: "要修改的内容在服务器上不存在",
  id_taken: "编号已被占用",
  immutable: "照片、签名、签到一经保存不能修改",
  not_deletable: "这项内容不能删除",
  deleted: "这项内容已被他人删除",
};

const ENTITY_TEXT: Record<string, string> = {
  check_item: "检查要点",
  result: "检查结果",
  finding: "问题记录",
  photo: "照片",
  signature: "签名",
  measure: "后续处置",
  referral: "抄告/移送",
  check_in: "签到",
  task: "任务状态",
  conflict: "冲突处理",
};

export const FIELD_TEXT: Record<string, string> = {
  conforms: "是否符合",
  problem_text: "问题描述",
  categories: "检查结果",
  verification_methods: "核查方式",
  text: "内容",
  to: "状态",
  _deleted: "删除",
};

export function valueText(value: unknown): string {
  if (value === true) return "符合";
  if (value === false) return "不符合";
  if (value === null || value === undefined) return "（空）";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** "检查要点 · 问题描述：xxx" for each field the mutation carried. */
export function sentText(mutation: Mutation | null): string[] {
  if (mutation === null) {
    return [];
  }
  const what = ENTITY_TEXT[mutation.entity] ?? mutation.entity;
  const fields = Object.entries(mutation.payload);
  if (fields.length === 0) {
    return [`${what}（${mutation.kind === "delete" ? "删除" : mutation.kind}）`];
  }
  return fields.map(
    ([name, value]) => `${what} · ${FIELD_TEXT[name] ?? name}：${valueText(value)}`,
  );
}

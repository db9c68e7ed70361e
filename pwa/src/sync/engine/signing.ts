// What a signature covers, defined once (sync/_signing.py): the phone and the server agree on
// whether it is stale. The canonical content of a task's record (RFC 8785, no floats): the
// task id, the 统一社会信用代码, each item's conforms and problem_text, the sorted result
// codes, the measures, the referrals, the sorted evidence digests and the check-ins. A
// signature stores the sha256 of this content when it is made; once the content changes, it
// is stale.

import { canonicalDigest } from "./canonical";
import type { JsonObject, JsonValue } from "./json";
import { compareCodePoints, compareTuples, pyEquals } from "./py";
import { fieldValue, type SyncRecord } from "./state";

/** `value or ""` in Python, for a sort key (the values sorted on are strings or None). */
function key(value: JsonValue): string {
  return typeof value === "string" ? value : "";
}

function sortedBy<T>(items: readonly T[], keyOf: (item: T) => readonly string[]): T[] {
  return [...items].sort((a, b) => compareTuples(keyOf(a), keyOf(b)));
}

function sortedStrings(values: JsonValue): JsonValue[] {
  const list = Array.isArray(values) ? [...values] : [];
  return list.sort((a, b) => compareCodePoints(String(a), String(b)));
}

export function signedContent(
  taskId: string,
  uscc: string,
  records: Iterable<SyncRecord>,
): JsonObject {
  const live = [...records].filter((r) => !r.deleted && r.task_id === taskId);
  const of = (entity: string): SyncRecord[] =>
    sortedBy(
      live.filter((r) => r.entity === entity),
      (r) => [r.id],
    );
  const result = of("result")[0];
  const measures = of("measure").map((r) => ({
    code: fieldValue(r, "code"),
    text: fieldValue(r, "text"),
  }));
  const referrals = of("referral").map((r) => ({
    kind: fieldValue(r, "kind"),
    target: fieldValue(r, "target"),
    findings: fieldValue(r, "findings"),
  }));
  const checkIns = of("check_in").map((r) => ({
    at: fieldValue(r, "at"),
    latitude: fieldValue(r, "latitude"),
    longitude: fieldValue(r, "longitude"),
  }));
  return {
    task_id: taskId,
    uscc,
    items: of("check_item").map((r) => ({
      id: r.id,
      conforms: fieldValue(r, "conforms"),
      problem_text: fieldValue(r, "problem_text"),
    })),
    result_codes: result === undefined ? [] : sortedStrings(fieldValue(result, "categories")),
    measures: sortedBy(measures, (m) => [key(m.code), key(m.text)]),
    referrals: sortedBy(referrals, (m) => [key(m.kind), key(m.target), key(m.findings)]),
    evidence: sortedStrings(
      of("photo")
        .map((r) => fieldValue(r, "evidence_digest"))
        .filter((d) => typeof d === "string" && d !== ""),
    ),
    check_ins: sortedBy(checkIns, (c) => [key(c.at)]),
  };
}

/** The sha256 (hex) of the canonical content a signature of this task covers. */
export function contentHash(taskId: string, uscc: string, records: Iterable<SyncRecord>): string {
  return canonicalDigest(signedContent(taskId, uscc, records));
}

export function isStale(signature: SyncRecord, currentHash: string): boolean {
  return !pyEquals(fieldValue(signature, "content_hash"), currentHash);
}

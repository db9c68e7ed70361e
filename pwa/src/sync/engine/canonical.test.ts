// The canonical form and the signed content's hash, against bytes computed by the Python side
// (sync._canonical.canonical_json, sync._signing.content_hash).
import { describe, expect, test } from "vitest";
import { canonicalDigest, canonicalJson } from "./canonical";
import { CanonicalFormError } from "./errors";
import { JsonFloat, type JsonValue } from "./json";
import { loadRecord, type WireRecord } from "./replica";
import { contentHash } from "./signing";

describe("canonical JSON", () => {
  test("equals Python's bytes for a sample with escapes, emoji and UTF-16 key order", () => {
    const sample: JsonValue = {
      b: [1, true, null, '\u001f\t\n"\\/é😀', -5],
      a: { "\ue000": 1, "😀": 2, z: {} },
      "": [],
      A: 9007199254740991,
    };
    expect(canonicalJson(sample)).toBe(
      '{"":[],"A":9007199254740991,"a":{"z":{},"😀":2,"\ue000":1},"b":[1,true,null,"\\u001f\\t\\n\\"\\\\/é😀",-5]}',
    );
    expect(canonicalDigest(sample)).toBe(
      "0b715bffc90f97c3798f1019f8b23209f84b40cb1d96ab985d39eafa10e3e81f",
    );
  });

  test.each<[string, JsonValue]>([
    ["a float", { x: 1.5 }],
    ["an integral float", { x: new JsonFloat(1) }],
    ["an integer beyond 2^53 - 1", [2n ** 53n]],
    ["a lone surrogate", ["\ud800"]],
    ["a lone surrogate in a key", { "\udc00": 1 }],
  ])("refuses %s", (_, value) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalFormError);
  });
});

describe("the signed content", () => {
  const task = "a5b297f4-70fd-5aa2-995a-5cf042216917";
  const reg = (value: JsonValue) => ({
    value,
    version: 3,
    hlc: "001764460000001.000000.dev-a",
    client_id: "dev-a",
  });
  const rec = (
    entity: string,
    id: string,
    fields: Record<string, JsonValue>,
    deleted = false,
  ): WireRecord => ({
    entity,
    id,
    task_id: task,
    fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, reg(v)])),
    version: 3,
    deleted,
  });
  const records = [
    rec("check_item", "23b58cb3-0d36-5f20-9b31-a1c8d9f6a3c0", {
      conforms: false,
      problem_text: "灭火器压力不足",
    }),
    rec("check_item", "8920b268-67d1-59a8-9d77-5b506e9dba6f", { conforms: true }),
    rec("result", "06c6f379-1f80-5b94-b515-a644c8cf4f34", { categories: ["B2", "A1", "a0"] }),
    rec("measure", "11111111-1111-5111-8111-111111111111", { code: "M2", text: "整改" }),
    rec("measure", "22222222-2222-5222-8222-222222222222", { code: "M1" }),
    rec("referral", "33333333-3333-5333-8333-333333333333", {
      kind: "移送",
      target: "公安",
      findings: "x",
    }),
    rec("photo", "44444444-4444-5444-8444-444444444444", { evidence_digest: "b".repeat(64) }),
    rec("photo", "55555555-5555-5555-8555-555555555555", { evidence_digest: "a".repeat(64) }),
    rec("photo", "66666666-6666-5666-8666-666666666666", { evidence_digest: "c".repeat(64) }, true),
    rec("check_in", "77777777-7777-5777-8777-777777777777", {
      at: "2026-11-30T09:12:00+08:00",
      latitude: "25.951234",
      longitude: "115.412345",
    }),
  ];

  test("hashes to what Python's content_hash gives", () => {
    expect(contentHash(task, "91360731MA35XY0128", records.map(loadRecord))).toBe(
      "a923fd78dea3d6fc72e106e5b039bccb6e6535c408f06403bbec14c1cdd3b126",
    );
  });
});

import { describe, expect, test } from "vitest";
import { HybridClock, Replica } from "./index";

const TASK = "00000000-0000-4000-8000-0000000000aa";

function replica(): Replica {
  const r = new Replica(new HybridClock(() => 2_000_000_000_000));
  r.issueTask(TASK, ["u-a"]);
  r.registerDevice("a", "u-a");
  return r;
}

function raw(seq: number, kind: string, entity: string, payload: unknown, hlcNode = "a"): string {
  return JSON.stringify({
    id: crypto.randomUUID(),
    client_id: "a",
    seq,
    hlc: `${String(50 + seq).padStart(15, "0")}.000000.${hlcNode}`,
    kind,
    entity,
    entity_id: kind === "transition" ? TASK : crypto.randomUUID(),
    task_id: TASK,
    payload,
  });
}

describe("values are strict, as on the server", () => {
  test.each([
    ["a digest with a final newline", { evidence_digest: `${"a".repeat(64)}\n` }],
    [
      "a coordinate with a final newline",
      { evidence_digest: "a".repeat(64), latitude: "25.951774\n" },
    ],
    [
      "a coordinate in Arabic-Indic digits",
      { evidence_digest: "a".repeat(64), latitude: "٢٥.٩٥١٧٧٤" },
    ],
  ])("%s is invalid", (_, payload) => {
    const [result] = replica().push("a", [raw(1, "create", "photo", payload)]).results;
    expect(result?.outcome).toBe("rejected");
    expect(result?.reason_code).toBe("invalid");
  });

  test("an HLC with a final newline is invalid", () => {
    const [result] = replica().push("a", [
      raw(1, "create", "finding", { text: "x" }, "a\n"),
    ]).results;
    expect(result?.reason_code).toBe("invalid");
  });

  test.each([[[]], [{}], [3], [null]])("a transition to %j is invalid", (to) => {
    const [result] = replica().push("a", [raw(1, "transition", "task", { to })]).results;
    expect(result?.reason_code).toBe("invalid");
  });
});

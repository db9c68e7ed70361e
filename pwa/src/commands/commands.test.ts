import { afterEach, describe, expect, test } from "vitest";
import { checkItem, ITEM_ID, NOW, pulledTask, TASK_ID, workspace } from "../testing/fixtures";
import { setCheckItem } from "./checklist";
import { addMeasure, type MeasureEntry } from "./result";
import { checkIn, submitTask } from "./task";
import type { Workspace } from "./workspace";
import { CommandError } from "./workspace";

let ws: Workspace;

async function withTask(status = "in_progress"): Promise<Workspace> {
  ws = workspace();
  await ws.db.tasks.put({ ...pulledTask({ status }), items: [], readOnly: false });
  await ws.db.records.put(checkItem(7));
  return ws;
}

afterEach(async () => {
  await ws?.db.delete();
});

describe("a command writes its row and its outbox entry together", () => {
  test("a checklist answer becomes a set with the field's base version", async () => {
    await withTask();
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: false, problem_text: " 灭火器压力不足 " });
    const [row] = await ws.db.outbox.toArray();
    expect(row?.seq).toBe(1);
    expect(row?.mutation).toMatchObject({
      kind: "set",
      entity: "check_item",
      entity_id: ITEM_ID,
      task_id: TASK_ID,
      payload: { conforms: false, problem_text: "灭火器压力不足" },
      base_versions: { conforms: 7, problem_text: 7 },
      client_id: ws.deviceId,
    });
    expect(row?.mutation.hlc).toBe(`00${NOW}.000000.${ws.deviceId}`);
  });

  test("seq and HLC move forward with every mutation, even at the same millisecond", async () => {
    await withTask();
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true });
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: false });
    const rows = await ws.db.outbox.orderBy("seq").toArray();
    expect(rows.map((r) => r.seq)).toEqual([1, 2]);
    expect(rows[0]?.mutation.hlc.slice(0, 22)).toBe(`00${NOW}.000000`);
    expect(rows[1]?.mutation.hlc.slice(0, 22)).toBe(`00${NOW}.000001`);
    expect(new Set(rows.map((r) => r.mutation.id)).size).toBe(2);
  });

  test.each([
    ["a lone surrogate", { problem_text: "灭火器\ud800" }, "无法保存的字符"],
    ["text over 2000 characters", { problem_text: "字".repeat(2001) }, "最多 2000 个字"],
    ["nothing to save", {}, "没有要保存的内容"],
  ])("bad input (%s) is refused and writes nothing", async (_, edit, message) => {
    await withTask();
    await expect(setCheckItem(ws, TASK_ID, ITEM_ID, edit)).rejects.toThrow(message);
    expect(await ws.db.outbox.count()).toBe(0);
    expect(await ws.db.getMeta("next_seq", null)).toBeNull();
  });

  test("a submitted task takes no more edits", async () => {
    await withTask("submitted");
    await expect(setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true })).rejects.toBeInstanceOf(
      CommandError,
    );
    expect(await ws.db.outbox.count()).toBe(0);
  });

  test("a task reassigned away is read-only here", async () => {
    await withTask();
    await ws.db.tasks.update(TASK_ID, { readOnly: true });
    await expect(setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true })).rejects.toThrow("只读");
  });
});

describe("on site", () => {
  test("check-in on an assigned task also starts it; coordinates are fixed-decimal strings", async () => {
    await withTask("assigned");
    await checkIn(ws, TASK_ID, {
      position: { latitude: 25.9512345678, longitude: 115.41, accuracyM: 12.4 },
    });
    const rows = await ws.db.outbox.orderBy("seq").toArray();
    expect(rows.map((r) => [r.mutation.kind, r.mutation.entity])).toEqual([
      ["create", "check_in"],
      ["transition", "task"],
    ]);
    expect(rows[0]?.mutation.payload).toMatchObject({
      latitude: "25.951235",
      longitude: "115.410000",
      accuracy_m: 12,
      at: "2026-11-30T02:00:00.000Z",
      inspector_id: ws.userId,
    });
    expect(rows[1]?.mutation.payload).toEqual({ to: "in_progress" });
  });

  test("without GPS a reason is required", async () => {
    await withTask("assigned");
    await expect(checkIn(ws, TASK_ID, { noGpsReason: "  " })).rejects.toThrow("原因");
    expect(await ws.db.outbox.count()).toBe(0);
    await checkIn(ws, TASK_ID, { noGpsReason: "地下商场无信号" });
    const [row] = await ws.db.outbox.toArray();
    expect(row?.mutation.payload.no_gps_reason).toBe("地下商场无信号");
  });

  test("submit needs a started task and happens once", async () => {
    await withTask("assigned");
    await expect(submitTask(ws, TASK_ID)).rejects.toThrow("签到");
    await checkIn(ws, TASK_ID, { noGpsReason: "室内" });
    await submitTask(ws, TASK_ID);
    await expect(submitTask(ws, TASK_ID)).rejects.toThrow("已经提交");
    const kinds = (await ws.db.outbox.orderBy("seq").toArray()).map((r) => r.mutation.payload.to);
    expect(kinds).toEqual([undefined, "in_progress", "submitted"]);
  });
});

describe("follow-up measures", () => {
  const table: MeasureEntry[] = [
    { code: "none", text: "无须后续处置", exclusive: true, excludes: [], referral: null },
    { code: "penalty", text: "违法处罚", referral: null },
    {
      code: "notify_department",
      text: "违反其他部门相关规定，抄告相关部门",
      referral: { kind: "抄告", target: "相关部门" },
    },
  ];
  const [none, penalty, notify] = table as [MeasureEntry, MeasureEntry, MeasureEntry];
  const blank = { text: "", target: "", findings: "" };

  test("an exclusive measure stands alone, and none is added twice", async () => {
    await withTask();
    await addMeasure(ws, TASK_ID, penalty, blank, { table });
    await expect(addMeasure(ws, TASK_ID, none, blank, { table })).rejects.toThrow(
      "不能与其他结果同时选择",
    );
    await expect(addMeasure(ws, TASK_ID, penalty, blank, { table })).rejects.toThrow(
      "已经添加过了",
    );
    expect(await ws.db.outbox.count()).toBe(1);
  });

  test("a referral asks for the department and what was found, and is written with its measure", async () => {
    await withTask();
    await expect(addMeasure(ws, TASK_ID, notify, blank, { table })).rejects.toThrow(
      "抄告需要填写接收部门和发现的问题",
    );
    expect(await ws.db.outbox.count()).toBe(0);
    const id = await addMeasure(
      ws,
      TASK_ID,
      notify,
      { text: "", target: "于都县卫生健康委员会", findings: "从业人员无健康证" },
      { table },
    );
    const rows = await ws.db.outbox.orderBy("seq").toArray();
    expect(rows.map((r) => r.mutation.entity)).toEqual(["measure", "referral"]);
    expect(rows[1]?.mutation.payload).toEqual({
      kind: "抄告",
      target: "于都县卫生健康委员会",
      findings: "从业人员无健康证",
      measure_id: id,
    });
  });
});

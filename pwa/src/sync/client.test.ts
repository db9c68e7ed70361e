import { afterEach, describe, expect, test } from "vitest";
import { setCheckItem } from "../commands/checklist";
import type { Workspace } from "../commands/workspace";
import { keepFile } from "../db/user-db";
import {
  checkItem,
  fakeServer,
  ITEM_ID,
  page,
  pulledTask,
  TASK_ID,
  workspace,
} from "../testing/fixtures";
import { MissingHistory, releaseSettledFiles, SyncClient } from "./client";

let ws: Workspace;

async function phoneWithTask(): Promise<Workspace> {
  ws = workspace();
  await ws.db.tasks.put({ ...pulledTask(), items: [], readOnly: false });
  await ws.db.records.put(checkItem(7));
  return ws;
}

afterEach(async () => {
  await ws?.db.delete();
});

describe("push", () => {
  test("sends the outbox in seq order and keeps it until a pull confirms it", async () => {
    await phoneWithTask();
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true });
    await setCheckItem(ws, TASK_ID, ITEM_ID, { problem_text: "无" });
    const server = fakeServer([]);
    await new SyncClient(ws, server.api).push();
    expect(server.pushes).toHaveLength(1);
    expect(server.pushes[0]?.map((m) => m.seq)).toEqual([1, 2]);
    const rows = await ws.db.outbox.orderBy("seq").toArray();
    expect(rows).toHaveLength(2); // a push reply alone removes nothing
    expect(rows.map((r) => r.result?.outcome)).toEqual(["applied", "applied"]);
  });

  test("a server that lost what it had confirmed gets every held mutation again", async () => {
    await phoneWithTask();
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true });
    const server = fakeServer([page({ last_seq: 1 })]);
    await new SyncClient(ws, server.api).run();
    expect(await ws.db.outbox.count()).toBe(0);
    expect(await ws.db.sent.count()).toBe(1);
    // a restored backup: the server expects seq 1 again when seq 2 arrives
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: false });
    let first = true;
    const restored = fakeServer([page({ server_epoch: "epoch-2", last_seq: 2 })], (mutations) => {
      if (first) {
        first = false;
        return { expected_seq: 1, last_seq: 0, results: [] };
      }
      return { last_seq: mutations[mutations.length - 1]?.seq ?? 0 };
    });
    await new SyncClient(ws, restored.api).run();
    expect(restored.pushes.map((p) => p.map((m) => m.seq))).toEqual([[2], [1, 2]]);
    expect(await ws.db.outbox.count()).toBe(0);
  });
});

describe("a gap the phone cannot fill", () => {
  test("stops the sync with a clear error instead of pushing in a loop", async () => {
    await phoneWithTask();
    await ws.db.setMeta("next_seq", 40);
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true }); // seq 40; 1–39 are long gone
    const server = fakeServer([], () => ({ expected_seq: 1, last_seq: 0, results: [] }));
    await expect(new SyncClient(ws, server.api).push()).rejects.toBeInstanceOf(MissingHistory);
    expect(server.pushes).toHaveLength(1);
    expect(await ws.db.outbox.count()).toBe(1); // the work stays
  });
});

describe("pull", () => {
  test("applies every page of one snapshot, asking with the first page's until", async () => {
    ws = workspace();
    const server = fakeServer([
      page({ next_cursor: 5, until: 9, has_more: true, tasks: [pulledTask({ items: [] })] }),
      page({ cursor: 5, next_cursor: 9, until: 9, records: [checkItem(8, true)] }),
    ]);
    await new SyncClient(ws, server.api).pull();
    expect(server.pulls.map((p) => [p.cursor, p.until, p.origin])).toEqual([
      [0, null, null],
      [5, 9, 0],
    ]);
    expect(await ws.db.tasks.count()).toBe(1);
    expect((await ws.db.records.get(["check_item", ITEM_ID]))?.fields.conforms?.value).toBe(true);
    expect(await ws.db.getMeta("cursor", 0)).toBe(9);
  });

  test("a failed page applies nothing", async () => {
    ws = workspace();
    const server = fakeServer([
      page({ next_cursor: 5, until: 9, has_more: true, tasks: [pulledTask()] }),
    ]);
    await expect(new SyncClient(ws, server.api).pull()).rejects.toThrow();
    expect(await ws.db.tasks.count()).toBe(0);
    expect(await ws.db.getMeta("cursor", 0)).toBe(0);
  });

  test("a revoked task with pending work stays, read-only; without pending work it goes", async () => {
    await phoneWithTask();
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true });
    await new SyncClient(ws, fakeServer([page({ revocations: [TASK_ID] })]).api).pull();
    expect((await ws.db.tasks.get(TASK_ID))?.readOnly).toBe(true);
    expect(await ws.db.outbox.count()).toBe(1);
    await new SyncClient(
      ws,
      fakeServer([page({ last_seq: 1, revocations: [TASK_ID] })]).api,
    ).pull();
    expect(await ws.db.tasks.get(TASK_ID)).toBeUndefined();
    expect(await ws.db.records.where("task_id").equals(TASK_ID).count()).toBe(0);
  });

  test("a read-only task goes once a later pull confirms its last pending work", async () => {
    await phoneWithTask();
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true });
    await new SyncClient(ws, fakeServer([page({ revocations: [TASK_ID] })]).api).pull();
    expect((await ws.db.tasks.get(TASK_ID))?.readOnly).toBe(true);
    await new SyncClient(ws, fakeServer([page({ last_seq: 1 })]).api).pull();
    expect(await ws.db.tasks.get(TASK_ID)).toBeUndefined();
  });

  test("a reset replaces server data with the new snapshot in one go and keeps the outbox", async () => {
    await phoneWithTask();
    const other = "b5b297f4-70fd-5aa2-995a-5cf042216918";
    await ws.db.tasks.put({ ...pulledTask({ id: other }), items: [], readOnly: false });
    await ws.db.setMeta("cursor", 500);
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true });
    const server = fakeServer([
      page({
        reset: true,
        cursor: 0,
        next_cursor: 5,
        until: 9,
        has_more: true,
        records: [checkItem(9)],
      }),
      page({ cursor: 5, next_cursor: 9, until: 9, tasks: [pulledTask()] }),
    ]);
    await new SyncClient(ws, server.api).pull();
    expect(server.pulls.map((p) => [p.cursor, p.until, p.origin])).toEqual([
      [500, null, null],
      [5, 9, 0],
    ]);
    expect(await ws.db.outbox.count()).toBe(1);
    expect((await ws.db.records.get(["check_item", ITEM_ID]))?.version).toBe(9);
    expect(await ws.db.tasks.get(other)).toBeUndefined(); // not in the new snapshot, nothing pending
    expect((await ws.db.tasks.get(TASK_ID))?.readOnly).toBe(false);
    expect(await ws.db.getMeta("cursor", 0)).toBe(9);
  });

  test("a reset whose next page fails leaves the phone as it was", async () => {
    await phoneWithTask();
    await ws.db.setMeta("cursor", 500);
    const server = fakeServer([
      page({ reset: true, cursor: 0, next_cursor: 5, until: 9, has_more: true }),
    ]);
    await expect(new SyncClient(ws, server.api).pull()).rejects.toThrow();
    expect(await ws.db.tasks.get(TASK_ID)).toBeDefined();
    expect(await ws.db.records.count()).toBe(1);
    expect(await ws.db.getMeta("cursor", 0)).toBe(500);
  });

  test("a server that forgot gets the files again too (each checked by digest first)", async () => {
    await phoneWithTask();
    await keepFile(
      ws.db,
      {
        digest: "a".repeat(64),
        taskId: TASK_ID,
        kind: "evidence",
        mediaType: "image/jpeg",
        createdAt: "x",
      },
      new ArrayBuffer(8),
    );
    await ws.db.files.update("a".repeat(64), { state: "confirmed", confirmedAt: "x" });
    await new SyncClient(ws, fakeServer([page({ server_epoch: "epoch-1" })]).api).pull();
    expect((await ws.db.files.get("a".repeat(64)))?.state).toBe("confirmed");
    await new SyncClient(ws, fakeServer([page({ server_epoch: "epoch-2" })]).api).pull();
    expect((await ws.db.files.get("a".repeat(64)))?.state).toBe("pending");
  });

  test("items sent once are kept when later pulls leave them out", async () => {
    ws = workspace();
    const items = [
      {
        item_code: "SJ-01",
        item_version: 1,
        name: "食品经营许可",
        basis: "《食品安全法》",
        category: "一般",
        method: "现场检查",
        qualification_area: "food",
        department_id: "22222222-2222-4222-8222-222222222222",
        department_name: "市场监督管理局",
        checklist: [],
      },
    ];
    await new SyncClient(ws, fakeServer([page({ tasks: [pulledTask({ items })] })]).api).pull();
    await new SyncClient(
      ws,
      fakeServer([page({ tasks: [pulledTask({ items: null, status: "submitted" })] })]).api,
    ).pull();
    const task = await ws.db.tasks.get(TASK_ID);
    expect(task?.status).toBe("submitted");
    expect(task?.items.map((i) => i.item_code)).toEqual(["SJ-01"]);
  });
});

describe("each user has a database of their own", () => {
  test("another user's phone database holds none of the first user's pending work", async () => {
    await phoneWithTask();
    await setCheckItem(ws, TASK_ID, ITEM_ID, { conforms: true });
    const other = workspace(
      "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
      "9b2e0d4c-2f4b-4a8e-9d5e-1f2a3b4c5d6e",
    );
    try {
      expect(other.db.name).not.toBe(ws.db.name);
      expect(await other.db.outbox.count()).toBe(0);
      const server = fakeServer([page()]);
      await new SyncClient(other, server.api).run();
      expect(server.pushes).toEqual([]);
    } finally {
      await other.db.delete();
    }
  });
});

describe("files after approval", () => {
  test("the bytes of confirmed files go once the record is approved; pending ones stay", async () => {
    await phoneWithTask();
    const bytes = new Uint8Array([1, 2, 3]).buffer;
    for (const [digest, state] of [
      ["a".repeat(64), "confirmed"],
      ["b".repeat(64), "pending"],
    ] as const) {
      await keepFile(
        ws.db,
        { digest, taskId: TASK_ID, kind: "evidence", mediaType: "image/jpeg", createdAt: "" },
        bytes,
      );
      await ws.db.files.update(digest, { state });
    }
    expect(await releaseSettledFiles(ws.db)).toBe(0); // still in progress: everything stays
    await ws.db.tasks.update(TASK_ID, { status: "approved" });
    expect(await releaseSettledFiles(ws.db)).toBe(1);
    expect(await ws.db.blobs.get("a".repeat(64))).toBeUndefined();
    expect((await ws.db.files.get("a".repeat(64)))?.state).toBe("released");
    expect(await ws.db.blobs.get("b".repeat(64))).toBeDefined(); // an original waiting for Wi-Fi
    expect(await releaseSettledFiles(ws.db)).toBe(0);
  });
});

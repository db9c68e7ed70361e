import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FileRow } from "../db/user-db";
import type { Session } from "../session";
import { TASK_ID, workspace } from "../testing/fixtures";
import { lockManager } from "../testing/locks";
import { ONE_TRIP_MAX, uploadPending } from "./uploads";

/** The options each tus upload was made with (tus-js-client is replaced by a stand-in that
 * succeeds at once). */
const tusOptions: Record<string, unknown>[] = [];
vi.mock("tus-js-client", () => ({
  Upload: class {
    constructor(
      _file: Blob,
      private readonly options: Record<string, unknown> & { onSuccess: () => void },
    ) {
      tusOptions.push(options);
    }
    start() {
      this.options.onSuccess();
    }
  },
}));

function fileRow(digest: string): FileRow {
  return {
    digest,
    taskId: TASK_ID,
    kind: "evidence",
    mediaType: "image/jpeg",
    size: 10,
    createdAt: new Date().toISOString(),
    state: "pending",
    uploadUrl: null,
    uploaded: 0,
    confirmedAt: null,
    lastError: null,
  };
}

const session = { accessToken: async () => "token" } as unknown as Session;

describe("uploadPending", () => {
  let answerFirst: (() => void) | null;
  let asked: string[];

  beforeEach(() => {
    answerFirst = null;
    asked = [];
    vi.stubGlobal("navigator", { locks: lockManager() });
    vi.stubGlobal("XMLHttpRequest", class {});
    // the server already holds every file (HEAD by digest: 200); the first HEAD hangs until
    // the test lets it answer, as an upload in progress would
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        asked.push(url.split("/").pop() ?? "");
        if (asked.length === 1) {
          await new Promise<void>((resolve) => {
            answerFirst = resolve;
          });
        }
        return new Response(null, { status: 200 });
      }),
    );
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("sends a file written while another pass is sending, once that pass ends", async () => {
    const ws = workspace();
    await ws.db.files.add(fileRow("a".repeat(64)));
    const first = uploadPending(ws, session);
    await vi.waitFor(() => expect(answerFirst).not.toBeNull());

    // a photo taken now: the pass under way listed the files before it existed
    await ws.db.files.add(fileRow("b".repeat(64)));
    const second = uploadPending(ws, session);
    const third = uploadPending(ws, session); // adds no pass: the waiting one lists the files
    expect(await third).toBe(0);

    answerFirst?.();
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    const states = (await ws.db.files.toArray()).map((f) => [f.digest[0], f.state]);
    expect(states).toEqual([
      ["a", "confirmed"],
      ["b", "confirmed"],
    ]);
    expect(asked.map((d) => d[0])).toEqual(["a", "b"]);
  });

  it("a call after the waiting pass has started makes one more pass", async () => {
    const ws = workspace();
    await ws.db.files.add(fileRow("a".repeat(64)));
    const first = uploadPending(ws, session);
    await vi.waitFor(() => expect(answerFirst).not.toBeNull());
    const second = uploadPending(ws, session);
    answerFirst?.();
    await first;
    await second;
    await ws.db.files.add(fileRow("c".repeat(64)));
    expect(await uploadPending(ws, session)).toBe(1);
    expect(asked.map((d) => d[0])).toEqual(["a", "c"]);
  });
});

describe("how a file is sent", () => {
  beforeEach(() => {
    tusOptions.length = 0;
    vi.stubGlobal("navigator", { locks: lockManager() });
    vi.stubGlobal("XMLHttpRequest", class {});
    // the server holds none of them yet (HEAD by digest: 404)
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(null, { status: 404 })),
    );
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("a small file rides in the creating request; a larger one is created first, to be resumable", async () => {
    const ws = workspace();
    const sizes = { a: ONE_TRIP_MAX, b: ONE_TRIP_MAX + 1 };
    for (const [letter, size] of Object.entries(sizes)) {
      const digest = letter.repeat(64);
      await ws.db.files.add({ ...fileRow(digest), size });
      await ws.db.blobs.put({ digest, bytes: new ArrayBuffer(size) });
    }
    expect(await uploadPending(ws, session)).toBe(2);
    expect(tusOptions.map((o) => [o.chunkSize, o.uploadDataDuringCreation])).toEqual([
      [512 * 1024, true],
      [512 * 1024, false],
    ]);
  });
});

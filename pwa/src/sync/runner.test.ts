import "fake-indexeddb/auto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Session } from "../session";
import { workspace } from "../testing/fixtures";
import { lockManager } from "../testing/locks";

/** Each sync the runner starts: it waits until the test lets it end. */
const runs: { end: () => void }[] = [];

vi.mock("./client", () => ({
  SyncClient: class {
    async run() {
      await new Promise<void>((resolve) => {
        runs.push({ end: resolve });
      });
      return { pushed: 0, pulledRecords: 0, pending: 0, rejected: 0 };
    }
  },
  describeSyncError: (error: unknown) => String(error),
}));

const { syncSoon } = await import("./runner");

const session = { api: {} } as unknown as Session;
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("syncSoon", () => {
  beforeEach(() => {
    runs.length = 0;
    vi.stubGlobal("navigator", { locks: lockManager() });
  });

  it("queues one more sync behind a running one, and another once that one has started", async () => {
    const ws = workspace();
    const first = syncSoon(ws, session);
    await settle();
    expect(runs).toHaveLength(1);
    // a change while it runs: one sync waits; more calls meanwhile add nothing
    const second = syncSoon(ws, session);
    const third = syncSoon(ws, session);
    expect(await third).toEqual({ ok: null });
    runs[0]?.end();
    expect((await first).ok).toBe(true);
    await settle();
    expect(runs).toHaveLength(2); // the waiting one started: it reads the outbox now
    // a change while that one runs (it may have pushed already): another sync waits for it
    const fourth = syncSoon(ws, session);
    runs[1]?.end();
    expect((await second).ok).toBe(true);
    await settle();
    expect(runs).toHaveLength(3);
    runs[2]?.end();
    expect((await fourth).ok).toBe(true);
    expect(runs).toHaveLength(3);
  });
});

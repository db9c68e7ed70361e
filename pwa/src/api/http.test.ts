import { afterEach, describe, expect, it, vi } from "vitest";
import { ANSWER_TIMEOUT_MS, ApiError, apiClient, SLOWEST_UPLINK_BYTES_PER_S } from "./http";

const BODY = {
  protocol_version: 1,
  client_id: "0f8fad5b-d9cb-469f-a165-70867728950e",
  app_version: "test",
  cursor: 0,
  limit: 500,
};

afterEach(() => {
  vi.useRealTimers();
});

describe("a request whose answer does not begin", () => {
  it("counts as lost after the deadline, and its fetch is aborted", async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const api = apiClient(null, "http://zsjg.test", (_request, init) => {
      signal = init?.signal;
      return new Promise<Response>(() => {}); // a stalled connection: no answer, no error
    });
    const pending = api.POST("/api/v1/sync/pull", { body: BODY });
    const outcome = pending.then(
      () => "answered",
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS - 1);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1000); // and the time its small body needs (< 1 KB)
    const error = await outcome;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).offline).toBe(true);
    expect(signal?.aborted).toBe(true);
  });

  it("is not ended once its answer has begun and its body has come", async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const api = apiClient(null, "http://zsjg.test", async (_request, init) => {
      signal = init?.signal;
      return new Response(JSON.stringify({ ok: true }), {
        status: 200,
        headers: { "Content-Type": "application/json" },
      });
    });
    const { response } = await api.POST("/api/v1/sync/pull", { body: BODY });
    expect(response.status).toBe(200);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS * 2);
    expect(signal?.aborted).toBe(false);
  });

  it("is given the time its own body needs at the slowest uplink", async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const api = apiClient(null, "http://zsjg.test", (_request, init) => {
      signal = init?.signal;
      return new Promise<Response>(() => {});
    });
    const body = { ...BODY, app_version: "x".repeat(20 * 1024) }; // ~20 KB: 20 s more
    const outcome = api.POST("/api/v1/sync/pull", { body }).then(
      () => "answered",
      (error: unknown) => error,
    );
    const extra = (20 * 1024 * 1000) / SLOWEST_UPLINK_BYTES_PER_S;
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS + extra - 1000);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await outcome).toBeInstanceOf(ApiError);
    expect(signal?.aborted).toBe(true);
  });

  it("waits without a deadline when the client is made without one (a token's answer)", async () => {
    vi.useFakeTimers();
    let answer: ((response: Response) => void) | undefined;
    const api = apiClient(
      null,
      "http://zsjg.test",
      () =>
        new Promise<Response>((resolve) => {
          answer = resolve;
        }),
      null,
    );
    let settled = false;
    const pending = api.POST("/api/v1/sync/pull", { body: BODY }).finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS * 10);
    expect(settled).toBe(false);
    answer?.(new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } }));
    expect((await pending).response.status).toBe(200);
  });
});

/** An answer whose body sends ``parts`` one after another, ``gapMs`` apart, then ends (or stalls
 * for good when ``stallAfter`` parts have gone). */
function trickle(parts: string[], gapMs: number, stallAfter = Number.POSITIVE_INFINITY): Response {
  const bytes = new TextEncoder();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (sent >= stallAfter) {
          return new Promise<void>(() => {}); // nothing more, and no error
        }
        if (sent > 0) {
          await new Promise((resolve) => setTimeout(resolve, gapMs));
        }
        if (sent === parts.length) {
          controller.close();
          return;
        }
        controller.enqueue(bytes.encode(parts[sent]));
        sent += 1;
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: 200, headers: { "Content-Type": "application/json" } });
}

describe("an answer whose body has begun", () => {
  it("counts as lost once its body sends nothing for the deadline, and its fetch is aborted", async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const api = apiClient(null, "http://zsjg.test", async (_request, init) => {
      signal = init?.signal;
      return trickle(['{"changes": [', '{"a": 1}'], 1000, 2);
    });
    const outcome = api.POST("/api/v1/sync/pull", { body: BODY }).then(
      () => "answered",
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(1000 + ANSWER_TIMEOUT_MS - 1);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    const error = await outcome;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).offline).toBe(true);
    expect((error as ApiError).message).toContain("60 秒没有进展");
    expect(signal?.aborted).toBe(true);
  });

  it("counts as lost when its body is cut off midway, like any lost request", async () => {
    const api = apiClient(null, "http://zsjg.test", async () => {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) {
            controller.error(new TypeError("network error"));
            return;
          }
          controller.enqueue(new TextEncoder().encode('{"changes": ['));
          sent = true;
        },
      });
      return new Response(body, { status: 200, headers: { "Content-Type": "application/json" } });
    });
    const error = await api.POST("/api/v1/sync/pull", { body: BODY }).then(
      () => "answered",
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).offline).toBe(true);
  });

  it("of a status without a body (204) comes back as it is", async () => {
    // Chromium gives a 204 an empty body stream; a Response with status 204 may not carry one
    const answer = new Response("", { status: 200 });
    Object.defineProperty(answer, "status", { value: 204 });
    const api = apiClient(null, "http://zsjg.test", async () => answer);
    const { response } = await api.POST("/api/v1/auth/logout");
    expect(response.status).toBe(204);
  });

  it("is not cut while its body keeps coming, however long it takes", async () => {
    vi.useFakeTimers();
    let signal: AbortSignal | undefined;
    const parts = ['{"items": [', ...Array.from({ length: 10 }, (_, i) => `${i},`), "10]}"];
    const api = apiClient(null, "http://zsjg.test", async (_request, init) => {
      signal = init?.signal;
      return trickle(parts, ANSWER_TIMEOUT_MS / 2); // 6 minutes in all
    });
    const pending = api.POST("/api/v1/sync/pull", { body: BODY });
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS * 7);
    const { data, response } = await pending;
    expect(response.status).toBe(200);
    expect(data).toEqual({ items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    expect(signal?.aborted).toBe(false);
  });

  it("waits for a stalled body without a deadline when the client has none (a token's answer)", async () => {
    vi.useFakeTimers();
    const api = apiClient(null, "http://zsjg.test", async () => trickle(['{"a": '], 1000, 1), null);
    let settled = false;
    const pending = api.POST("/api/v1/sync/pull", { body: BODY }).finally(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(ANSWER_TIMEOUT_MS * 10);
    expect(settled).toBe(false);
    void pending.catch(() => {});
  });
});

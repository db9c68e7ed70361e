import { afterEach, describe, expect, it, vi } from "vitest";
import { ANSWER_TIMEOUT_MS, ApiError, apiClient } from "./http";

const BODY = {
  protocol_version: 1,
  client_id: "0f8fad5b-d9cb-469f-a165-70867728950e",
  app_version: "test",
  cursor: 0,
  limit: 500,
};

describe("a request whose answer does not begin", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

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
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).offline).toBe(true);
    expect(signal?.aborted).toBe(true);
  });

  it("is not ended once its answer has begun", async () => {
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
});

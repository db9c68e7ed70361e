// The backend's API client: openapi-fetch over the types generated from the backend's OpenAPI
// document (src/api/schema.d.ts), so every path, body and answer is checked by tsc. Requests
// carry the access token, renewed once on a 401; problem details (RFC 9457) become ApiError.
// Works in pages, in the service worker and in Vitest (with an injected fetch).
import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./schema";

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
  }

  /** True when the request never reached a server that answered it (offline, DNS, reset). */
  get offline(): boolean {
    return this.status === 0;
  }
}

export interface Credentials {
  /** The current access token, or null when there is none to send. */
  accessToken(): Promise<string | null>;
  /** False once the session has ended (the user must sign in again). */
  readonly signedIn: boolean;
  /** Renews the access token after a 401; false when the user must sign in again. */
  renew(): Promise<boolean>;
}

export type Fetch = (request: Request, init?: { signal: AbortSignal }) => Promise<Response>;

/**
 * How long a request may wait for its answer to begin (status and headers), beyond the time
 * its own body needs at the slowest uplink, before it counts as lost; and how long the
 * answer's body may then send nothing. On a weak signal a connection can stall without ever
 * being closed; without a deadline the sync would wait on it, holding its lock, until the
 * phone's network stack gave up. An answer's body that keeps coming has no deadline: a large
 * pull on a slow link may take long.
 */
export const ANSWER_TIMEOUT_MS = 60_000;

/** The slowest uplink a request's body is given time for (GPRS sends 2–5 KB/s): a push of
 * 100 long findings (~640 KB) may take about 11 minutes before it counts as lost. */
export const SLOWEST_UPLINK_BYTES_PER_S = 1024;

export type Api = Client<paths>;

/** The page's (or service worker's) own origin: the backend serves the app. */
export function defaultBase(): string {
  return globalThis.location?.origin ?? "http://localhost";
}

export function apiClient(
  credentials: Credentials | null,
  base = defaultBase(),
  fetchFn: Fetch = (request, init) => fetch(request, init),
  /** null: no deadline, for a call whose answer must never be abandoned (a token's: the server
   * has rotated it by then, and the old one would end the session when used again). */
  answerTimeoutMs: number | null = ANSWER_TIMEOUT_MS,
): Api {
  const send = async (request: Request): Promise<Response> => {
    // the deadline also gives the request's own body its time at the slowest uplink
    const limit =
      answerTimeoutMs === null
        ? null
        : answerTimeoutMs +
          ((request.body ? (await request.clone().arrayBuffer()).byteLength : 0) * 1000) /
            SLOWEST_UPLINK_BYTES_PER_S;
    const deadline = new AbortController();
    const giveUp = () => deadline.abort();
    if (request.signal.aborted) {
      giveUp();
    }
    request.signal.addEventListener("abort", giveUp);
    const answer =
      limit === null
        ? null
        : lostAfter(
            limit,
            `服务器 ${Math.round(limit / 1000)} 秒内没有应答，稍后自动重试`,
            giveUp, // the stalled request is ended, not left holding a connection
          );
    try {
      // raced as well as aborted: the deadline holds even for a fetch that ignores the signal
      const response = await Promise.race([
        fetchFn(request, { signal: deadline.signal }),
        ...(answer ? [answer.lost] : []),
      ]);
      answer?.cancel(); // the answer has begun: its body has a watchdog of its own
      return answerTimeoutMs === null
        ? response
        : await readWatched(response, answerTimeoutMs, giveUp);
    } catch (error) {
      throw error instanceof ApiError
        ? error
        : new ApiError(0, { title: "网络不可用", detail: String(error) });
    } finally {
      answer?.cancel();
      request.signal.removeEventListener("abort", giveUp);
    }
  };
  const authorized = async (request: Request): Promise<Response> => {
    const retry = request.clone();
    const token = credentials ? await credentials.accessToken() : null;
    if (token) {
      request.headers.set("Authorization", `Bearer ${token}`);
    } else if (credentials?.signedIn) {
      // the token could not be renewed just now (offline, or the server busy): try later,
      // rather than send without one and tell the inspector to sign in again
      throw new ApiError(503, { title: "暂时无法更新登录状态", detail: "稍后自动重试" });
    }
    const response = await send(request);
    if (response.status === 401 && credentials && (await credentials.renew())) {
      const renewed = await credentials.accessToken();
      if (renewed) {
        retry.headers.set("Authorization", `Bearer ${renewed}`);
      }
      return send(retry);
    }
    return response;
  };
  return createClient<paths>({ baseUrl: base, fetch: authorized, cache: "no-store" });
}

/**
 * A wait that fails as lost (offline, with ``detail``) after ``ms`` unless cancelled, and then
 * calls ``abort``: after the rejection, so that it wins over the aborted fetch's own error.
 */
function lostAfter(
  ms: number,
  detail: string,
  abort: () => void,
): { lost: Promise<never>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const lost = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ApiError(0, { title: "网络不可用", detail }));
      abort();
    }, ms);
  });
  return { lost, cancel: () => clearTimeout(timer) };
}

/** Statuses whose answer carries no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * The answer with its body read whole here, through a watchdog: a body that sends nothing for
 * ``idleMs`` fails as lost, and its fetch is aborted. Read here, a body cut off midway is an
 * ApiError (offline) like any other lost request, not the browser's bare TypeError.
 */
async function readWatched(response: Response, idleMs: number, abort: () => void) {
  if (response.body === null || NULL_BODY_STATUSES.has(response.status)) {
    return response; // Chromium gives a 204 an empty body, which a new Response may not carry
  }
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  for (;;) {
    const stall = lostAfter(
      idleMs,
      `服务器的应答 ${Math.round(idleMs / 1000)} 秒没有进展，稍后自动重试`,
      abort,
    );
    try {
      const { done, value } = await Promise.race([reader.read(), stall.lost]);
      if (done) {
        break;
      }
      parts.push(value);
    } finally {
      stall.cancel();
    }
  }
  return new Response(new Blob(parts as BlobPart[]), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** The answer's body, or an ApiError with the problem the server described. */
export function must<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) {
    return result.data as T;
  }
  const problem =
    typeof result.error === "object" && result.error !== null
      ? (result.error as Problem)
      : { status: result.response.status, title: result.response.statusText };
  throw new ApiError(result.response.status, problem);
}

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

export type Fetch = (request: Request) => Promise<Response>;

export type Api = Client<paths>;

/** The page's (or service worker's) own origin: the backend serves the app. */
export function defaultBase(): string {
  return globalThis.location?.origin ?? "http://localhost";
}

export function apiClient(
  credentials: Credentials | null,
  base = defaultBase(),
  fetchFn: Fetch = (request) => fetch(request),
): Api {
  const send = async (request: Request): Promise<Response> => {
    try {
      return await fetchFn(request);
    } catch (error) {
      throw new ApiError(0, { title: "网络不可用", detail: String(error) });
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

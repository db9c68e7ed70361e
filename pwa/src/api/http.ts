// One way to call the backend: JSON in and out, problem details (RFC 9457) turned into
// ApiError, the access token renewed once on 401. Works in pages and in the service worker.

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
  /** Renews the access token after a 401; false when the user must sign in again. */
  renew(): Promise<boolean>;
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export class Http {
  constructor(
    readonly base: string,
    private readonly credentials: Credentials | null,
    private readonly fetchFn: Fetch = (input, init) => fetch(input, init),
  ) {}

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body, true);
    if (response.status === 204) {
      return undefined as T;
    }
    return (await response.json()) as T;
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    mayRenew: boolean,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    const token = this.credentials ? await this.credentials.accessToken() : null;
    if (token) {
      headers.Authorization = `Bearer ${token}`;
    }
    let response: Response;
    try {
      response = await this.fetchFn(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, { title: "网络不可用", detail: String(error) });
    }
    if (
      response.status === 401 &&
      mayRenew &&
      this.credentials &&
      (await this.credentials.renew())
    ) {
      return this.send(method, path, body, false);
    }
    if (!response.ok) {
      throw new ApiError(response.status, await problemOf(response));
    }
    return response;
  }
}

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body = (await response.json()) as Problem;
    return typeof body === "object" && body !== null ? body : { status: response.status };
  } catch {
    return { status: response.status, title: response.statusText };
  }
}

// Who is signed in on this phone. The backend's own tokens (never an SSO token) are kept in
// the app database so the phone can renew them after a day offline; renewing is serialised
// across tabs with a Web Lock, because presenting a rotated refresh token twice ends the
// device's session (reuse detection).
import { type Api, apiClient, type Credentials, defaultBase, must } from "./api/http";
import type { TokenPair } from "./api/types";
import type { Account, AppDb } from "./db/app-db";
import { META, UserDb } from "./db/user-db";

/** The app database's setting naming who is signed in on this phone (every tab follows it). */
export const CURRENT = "current_username";
const EARLY_MS = 30_000;

export class Session implements Credentials {
  constructor(
    private readonly appDb: AppDb,
    public account: Account,
    private readonly base = defaultBase(),
    private readonly now: () => number = Date.now,
  ) {}

  get api(): Api {
    return apiClient(this, this.base);
  }

  async accessToken(): Promise<string | null> {
    const account = (await this.appDb.accounts.get(this.account.username)) ?? this.account;
    this.account = account;
    if (account.accessToken === null) {
      return null;
    }
    const expires = account.accessExpiresAt ? Date.parse(account.accessExpiresAt) : 0;
    if (expires - EARLY_MS > this.now()) {
      return account.accessToken;
    }
    return (await this.renew()) ? this.account.accessToken : null;
  }

  async renew(): Promise<boolean> {
    const seen = this.account.refreshToken;
    return withLock(`zsjg-auth-${this.account.username}`, async () => {
      const account = await this.appDb.accounts.get(this.account.username);
      if (account === undefined || account.refreshToken === null) {
        return false;
      }
      if (account.refreshToken !== seen) {
        this.account = account; // another tab renewed meanwhile
        return account.accessToken !== null;
      }
      try {
        // no deadline (null): the server rotates the token before it answers, and an abandoned
        // answer would leave this phone the old one, whose next use ends the session
        const pair = must(
          await apiClient(null, this.base, undefined, null).POST("/api/v1/auth/refresh", {
            body: { refresh_token: account.refreshToken },
          }),
        );
        this.account = withTokens(account, pair, this.now());
      } catch (error) {
        const status = (error as { status?: number }).status ?? 0;
        if (![400, 401, 403].includes(status)) {
          return false; // offline, busy or failing: keep the tokens for later
        }
        this.account = { ...account, accessToken: null, refreshToken: null };
      }
      await this.appDb.accounts.put(this.account);
      return this.account.accessToken !== null;
    });
  }

  /** True while the phone holds a refresh token (work can be sent once the network is back). */
  get signedIn(): boolean {
    return this.account.refreshToken !== null;
  }
}

/** Sign in with a demo account (the backend offers it in demo mode only). */
export async function signIn(
  appDb: AppDb,
  username: string,
  password: string,
  base = defaultBase(),
  now: () => number = Date.now,
): Promise<Session> {
  const deviceId = await deviceIdFor(appDb, username);
  const pair = must(
    await apiClient(null, base, undefined, null).POST("/api/v1/auth/login", {
      body: { username, password, device_id: deviceId, device_name: deviceName() },
    }),
  );
  return establish(appDb, pair, base, now);
}

/** Where the browser goes to sign in through the main platform's single sign-on. */
export const SSO_START = "/api/v1/auth/sso/start";

/** What the backend's single sign-on callback hands back to the app (`#/sso?…`). */
export interface SsoReturn {
  code: string | null;
  username: string | null;
  error: string | null;
}

export function ssoReturn(hash: string): SsoReturn | null {
  if (!hash.startsWith("#/sso?")) {
    return null;
  }
  const params = new URLSearchParams(hash.slice("#/sso?".length));
  return { code: params.get("code"), username: params.get("user"), error: params.get("error") };
}

/**
 * Finish a single sign-on: the one-time login code (good for two minutes, in this browser only)
 * becomes this device's session. The device id is the one this phone already uses for the
 * person, so their unsynced work and its sequence numbers carry on.
 */
export async function signInWithSso(
  appDb: AppDb,
  code: string,
  username: string,
  base = defaultBase(),
  now: () => number = Date.now,
): Promise<Session> {
  const deviceId = await deviceIdFor(appDb, username);
  const pair = must(
    await apiClient(null, base, undefined, null).POST("/api/v1/auth/sso/redeem", {
      body: { code, device_id: deviceId, device_name: deviceName() },
    }),
  );
  return establish(appDb, pair, base, now);
}

async function deviceIdFor(appDb: AppDb, username: string): Promise<string> {
  return (await appDb.accounts.get(username))?.deviceId ?? crypto.randomUUID();
}

async function establish(
  appDb: AppDb,
  pair: TokenPair,
  base: string,
  now: () => number,
): Promise<Session> {
  const username = pair.username;
  const known = await appDb.accounts.get(username);
  const account = withTokens(
    {
      username,
      userId: pair.user_id,
      deviceId: pair.device_id,
      displayName: known?.displayName ?? username,
      role: pair.role,
      accessToken: null,
      accessExpiresAt: null,
      refreshToken: null,
      refreshExpiresAt: null,
      signedInAt: null,
    },
    pair,
    now(),
  );
  await appDb.accounts.put(account);
  await appDb.settings.put({ key: CURRENT, value: username });
  const session = new Session(appDb, account, base, now);
  await continueAfterServer(session);
  try {
    const me = must(await session.api.GET("/api/v1/me"));
    session.account = {
      ...session.account,
      displayName: me.display_name,
      credential: me.profile
        ? {
            certificateNo: me.profile.certificate_no,
            validFrom: me.profile.certificate_valid_from,
            validUntil: me.profile.certificate_valid_until,
            department: me.department_name,
          }
        : null,
    };
    await appDb.accounts.put(session.account);
  } catch {
    // the name is a nicety; the sign-in stands
  }
  return session;
}

/**
 * A device's seq numbers never repeat: if this phone's database for the user is newer than the
 * server's record of the device (erased, or a browser that lost its storage), the next seq
 * continues after the last one the server processed — a reused seq would be skipped as done.
 */
async function continueAfterServer(session: Session): Promise<void> {
  const device = must(
    await session.api.POST("/api/v1/devices", {
      body: { device_id: session.account.deviceId, name: deviceName() },
    }),
  );
  const db = new UserDb(session.account.userId);
  try {
    await db.transaction("rw", db.meta, async () => {
      const next = await db.getMeta<number>(META.nextSeq, 1);
      if (next <= device.last_seq) {
        await db.setMeta(META.nextSeq, device.last_seq + 1);
      }
    });
  } finally {
    db.close();
  }
}

/** Forgets a user's device on this phone (after their data was erased): the next sign-in is a new install. */
export async function forgetDevice(appDb: AppDb, username: string): Promise<void> {
  await appDb.accounts.delete(username);
}

/** The user signed in last on this phone, if any — offline too. */
export async function resume(appDb: AppDb, base = ""): Promise<Session | null> {
  const current = await appDb.settings.get(CURRENT);
  if (current === undefined) {
    return null;
  }
  const account = await appDb.accounts.get(current.value);
  return account === undefined ? null : new Session(appDb, account, base);
}

/** Ends the session on the server (when reachable) and here; the user's database stays. */
export async function signOut(appDb: AppDb, session: Session): Promise<void> {
  try {
    must(await session.api.POST("/api/v1/auth/logout"));
  } catch {
    // offline or already ended: the tokens are dropped here all the same
  }
  await appDb.accounts.put({
    ...session.account,
    accessToken: null,
    accessExpiresAt: null,
    refreshToken: null,
    refreshExpiresAt: null,
  });
  await appDb.settings.delete(CURRENT);
}

function withTokens(account: Account, pair: TokenPair, now: number): Account {
  return {
    ...account,
    accessToken: pair.access_token,
    accessExpiresAt: pair.access_expires_at,
    refreshToken: pair.refresh_token,
    refreshExpiresAt: pair.refresh_expires_at,
    signedInAt: account.signedInAt ?? new Date(now).toISOString(),
  };
}

function deviceName(): string {
  const ua = typeof navigator === "undefined" ? "" : navigator.userAgent;
  const model = /\(([^)]+)\)/.exec(ua)?.[1] ?? "浏览器";
  return model.slice(0, 100);
}

async function withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (typeof navigator !== "undefined" && navigator.locks) {
    return navigator.locks.request(name, work);
  }
  return work();
}

import { useEffect, useState } from "preact/hooks";
import { ApiError, apiClient } from "../api/http";
import type { AppDb } from "../db/app-db";
import { type Session, SSO_START, signIn, signInWithSso, ssoReturn } from "../session";

interface Methods {
  sso: boolean;
  demo: boolean;
}

export function Login({ appDb, onSignedIn }: { appDb: AppDb; onSignedIn: (s: Session) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // unknown until the server answers (offline: both ways are shown, neither works yet)
  const [methods, setMethods] = useState<Methods | null>(null);

  useEffect(() => {
    void apiClient(null)
      .GET("/api/v1/auth/methods")
      .then(({ data }) => data && setMethods(data))
      .catch(() => undefined);
  }, []);

  // the end of a single sign-on: the backend sent the browser back with a one-time login code
  useEffect(() => {
    const back = ssoReturn(location.hash);
    if (back === null) {
      return;
    }
    history.replaceState(null, "", `${location.pathname}#/`); // the code is good for one use
    if (back.error) {
      setError(back.error);
      return;
    }
    if (back.code && back.username) {
      setBusy(true);
      signInWithSso(appDb, back.code, back.username)
        .then(onSignedIn)
        .catch((e: unknown) => setError(loginError(e)))
        .finally(() => setBusy(false));
    }
  }, [appDb, onSignedIn]);

  const startSso = () => {
    if (!navigator.onLine) {
      setError("没有网络：首次登录需要联网");
      return;
    }
    setBusy(true);
    location.assign(SSO_START);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (username.trim() === "" || password === "") {
      setError("请输入账号和密码");
      return;
    }
    setBusy(true);
    setError(null);
    // the signed-in app opens on the task list; set before the sign-in, not after it: the list
    // shows as soon as the first sync lands, and a task tapped by then must stay open
    history.replaceState(null, "", `${location.pathname}#/`);
    try {
      onSignedIn(await signIn(appDb, username.trim(), password));
    } catch (e) {
      setError(loginError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <h1>掌上监管</h1>
      <p class="muted">双随机、一公开 · 现场检查</p>
      {error && (
        <p class="error card" role="alert">
          {error}
        </p>
      )}
      {(methods === null || methods.sso) && (
        <div class="card">
          <button class="primary big" type="button" onClick={startSso} disabled={busy}>
            {busy ? "正在登录…" : "统一身份认证登录"}
          </button>
          <p class="muted small">使用省级监管平台的账号登录</p>
        </div>
      )}
      {(methods === null || methods.demo) && (
        <form onSubmit={submit} class="card">
          <label>
            账号
            <input
              name="username"
              autoComplete="username"
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          </label>
          <label>
            密码
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          <button
            class={methods?.sso === false ? "primary big" : "big"}
            type="submit"
            disabled={busy}
          >
            {busy ? "正在登录…" : methods?.sso === false ? "登录" : "演示账号登录"}
          </button>
        </form>
      )}
      <p class="muted small">首次登录需要网络；登录后没有网络也能检查，恢复网络后自动同步。</p>
    </main>
  );
}

function loginError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.offline) {
      return "没有网络：首次登录需要联网";
    }
    if (error.status === 401 || error.status === 403) {
      return "账号或密码不正确";
    }
    return error.message;
  }
  return String(error);
}

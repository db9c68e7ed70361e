import { useState } from "preact/hooks";
import { ApiError } from "../api/http";
import type { AppDb } from "../db/app-db";
import { type Session, signIn } from "../session";

export function Login({ appDb, onSignedIn }: { appDb: AppDb; onSignedIn: (s: Session) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (username.trim() === "" || password === "") {
      setError("请输入账号和密码");
      return;
    }
    setBusy(true);
    setError(null);
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
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary big" type="submit" disabled={busy}>
          {busy ? "正在登录…" : "登录"}
        </button>
      </form>
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

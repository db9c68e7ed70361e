import { useEffect, useState } from "preact/hooks";
import { pendingFiles } from "../db/user-db";
import { APP_VERSION } from "../sync/client";
import { useApp } from "../ui/app-context";
import { useLive } from "../ui/live";

export function Settings() {
  const { ws, session, signOut } = useApp();
  const [persisted, setPersisted] = useState<boolean | null>(null);
  const [asking, setAsking] = useState(false);
  const [refused, setRefused] = useState(false);
  const pending = useLive(
    async () => (await ws.db.outbox.count()) + (await pendingFiles(ws.db).count()),
    [ws],
    null as number | null,
  );
  useEffect(() => {
    void navigator.storage?.persisted?.().then(setPersisted);
  }, []);
  const ask = async () => {
    setAsking(true);
    setPersisted((await navigator.storage?.persist?.()) ?? false);
    setAsking(false);
  };
  return (
    <main>
      <header class="bar">
        <h1>设置</h1>
      </header>
      <section class="card">
        <h2>本机存储</h2>
        <p data-persisted={String(persisted)}>
          {persisted === null && "正在查询…"}
          {persisted === true && "✔ 已设为持久存储：浏览器不会自动清除本机数据。"}
          {persisted === false &&
            "⚠ 未获得持久存储：空间不足时浏览器可能清除本机数据。请尽快同步，或将本应用添加到主屏幕后重试。"}
        </p>
        {persisted === false && (
          <button type="button" onClick={() => void ask()} disabled={asking}>
            申请持久存储
          </button>
        )}
      </section>
      <section class="card">
        <h2>账号与设备</h2>
        <dl>
          <dt>用户</dt>
          <dd>
            {session.account.displayName}（{session.account.username}）
          </dd>
          <dt>设备编号</dt>
          <dd class="mono small">{session.account.deviceId}</dd>
          <dt>版本</dt>
          <dd>{APP_VERSION}</dd>
        </dl>
      </section>
      <section class="card">
        <h2>退出登录</h2>
        {pending === null ? (
          <p class="muted">正在统计未同步的内容…</p>
        ) : pending > 0 ? (
          <p class="warn">
            本机还有 {pending}{" "}
            项未同步的内容。退出后它们仍保存在本机，只有您本人再次登录后才会上传；其他人登录看不到也不会发送它们。
          </p>
        ) : (
          <p class="muted">所有内容都已同步。退出后本机数据保留，下次登录即可使用。</p>
        )}
        <button type="button" class="big" onClick={() => void signOut(false)}>
          退出登录（保留本机数据）
        </button>
        <button
          type="button"
          class="danger big"
          onClick={() => {
            if (pending !== 0) {
              setRefused(true);
              return;
            }
            void signOut(true);
          }}
        >
          退出并清除本机数据
        </button>
        {refused && pending !== 0 && (
          <p class="error" role="alert">
            {pending === null
              ? "正在统计未同步的内容，请稍候再试。"
              : `不能清除：还有 ${pending} 项未同步。请联网同步完成后再清除。`}
          </p>
        )}
      </section>
    </main>
  );
}

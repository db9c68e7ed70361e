import { useEffect, useState } from "preact/hooks";
import { pendingFiles, refusedFiles } from "../db/user-db";
import { onUploadProgress, type UploadProgress } from "../media/uploads";
import { useApp } from "../ui/app-context";
import { dateTime } from "../ui/format";
import { REASON_TEXT, sentText } from "../ui/labels";
import { useLive } from "../ui/live";
import { SyncLine } from "./SyncLine";

const FILE_KIND: Record<string, string> = {
  original: "照片原图",
  evidence: "照片（带水印）",
  signature: "签名",
};

const KIND_TEXT: Record<string, string> = {
  create: "新建",
  set: "修改",
  delete: "删除",
  transition: "状态",
  resolve_conflict: "处理冲突",
};

export function SyncScreen() {
  const { ws } = useApp();
  const data = useLive(
    async () => ({
      outbox: await ws.db.outbox.orderBy("seq").toArray(),
      files: await pendingFiles(ws.db).toArray(),
      refused: await refusedFiles(ws.db).toArray(),
      rejections: await Promise.all(
        (await ws.db.rejections.where("client_id").equals(ws.deviceId).toArray()).map(
          async (r) => ({
            ...r,
            mutation:
              (r.seq === null
                ? undefined
                : ((await ws.db.sent.get(r.seq)) ?? (await ws.db.outbox.get(r.seq)))
              )?.mutation ?? null,
          }),
        ),
      ),
    }),
    [ws],
    { outbox: [], files: [], refused: [], rejections: [] },
  );
  const [progress, setProgress] = useState<Record<string, UploadProgress>>({});
  useEffect(() => onUploadProgress((p) => setProgress((all) => ({ ...all, [p.digest]: p }))), []);
  return (
    <main>
      <header class="bar">
        <h1>同步</h1>
        <SyncLine />
      </header>
      <section class="card">
        <h2>待上传的修改（{data.outbox.length}）</h2>
        {data.outbox.length === 0 && <p class="muted">全部修改都已送达服务器。</p>}
        <ul class="plain">
          {data.outbox.map((row) => (
            <li key={row.seq} class="small" data-seq={row.seq}>
              #{row.seq} {KIND_TEXT[row.mutation.kind] ?? row.mutation.kind} {row.mutation.entity} ·{" "}
              {dateTime(row.createdAt)}
              {row.result && <span class="muted"> · 服务器：{row.result.outcome}</span>}
            </li>
          ))}
        </ul>
      </section>
      <section class="card">
        <h2>待上传的文件（{data.files.length}）</h2>
        <ul class="plain">
          {data.files.map((f) => {
            const p = progress[f.digest];
            const sent = p ? p.sent : f.uploaded;
            return (
              <li key={f.digest} class="small" data-file={f.digest}>
                {FILE_KIND[f.kind]} · {(f.size / 1024).toFixed(0)} KB ·{" "}
                <progress max={f.size} value={sent} />{" "}
                {sent >= f.size
                  ? "等待服务器确认"
                  : `${Math.round((100 * sent) / Math.max(1, f.size))}%`}
                {f.lastError && <span class="error block">{f.lastError}</span>}
              </li>
            );
          })}
        </ul>
      </section>
      {data.refused.length > 0 && (
        <section class="card rejected">
          <h2>服务器拒收的文件（{data.refused.length}）</h2>
          <p class="small muted">这些文件不会再自动上传；照片记录仍在，请按原因重拍或联系组长。</p>
          <ul class="plain">
            {data.refused.map((f) => (
              <li key={f.digest} class="small" data-refused={f.digest}>
                {FILE_KIND[f.kind]} · {(f.size / 1024).toFixed(0)} KB
                <span class="error block">{f.lastError}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section class="card rejected">
        <h2>未被接受的修改（{data.rejections.length}）</h2>
        {data.rejections.length === 0 && <p class="muted">没有。</p>}
        <ul class="plain">
          {data.rejections.map((r) => (
            <li key={r.key}>
              <div>
                #{r.seq ?? "?"} <b>{REASON_TEXT[r.reason_code] ?? r.reason_code}</b>
              </div>
              {sentText(r.mutation).map((line) => (
                <div key={line}>您填写的：{line}</div>
              ))}
              <div class="muted small wrap">
                {r.reason} · {dateTime(r.at)}
              </div>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}

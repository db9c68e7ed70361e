import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { ChecklistPoint } from "../api/types";
import { setCheckItem } from "../commands/checklist";
import { resolveConflict } from "../commands/conflict";
import { EDITABLE } from "../commands/guards";
import type { PhotoContext } from "../commands/photo";
import { CommandError } from "../commands/workspace";
import type { ConflictRow } from "../db/user-db";
import { fieldValue, type LocalRecord, recordKey } from "../db/view";
import { useApp } from "../ui/app-context";
import { dateTime, STATUS_TEXT } from "../ui/format";
import { FIELD_TEXT, REASON_TEXT, sentText, valueText } from "../ui/labels";
import { useLive } from "../ui/live";
import { track } from "../ui/saving";
import { CheckIn } from "./CheckIn";
import { Photos } from "./Photos";
import { Result } from "./Result";
import { Signatures } from "./Signatures";
import { type RejectedChange, type TaskView, taskView } from "./task-view";

export function TaskDetail({ taskId }: { taskId: string }) {
  const { ws, sync, session } = useApp();
  const view = useLive(() => taskView(ws, taskId), [ws, taskId], undefined);
  const [error, setError] = useState<string | null>(null);
  if (view === undefined) {
    return <p class="muted pad">正在读取…</p>;
  }
  if (view === null) {
    return (
      <main class="pad">
        <a href="#/">‹ 返回任务</a>
        <p>本机没有这项任务（可能已改派给他人）。</p>
      </main>
    );
  }
  const { task } = view;
  const editable = EDITABLE.has(view.status) && !task.readOnly;
  const started = view.status !== "assigned";
  const run = async (work: () => Promise<void>) => {
    setError(null);
    try {
      await track(work());
      void sync();
    } catch (e) {
      setError(e instanceof CommandError ? e.message : `保存失败：${String(e)}`);
    }
  };
  const o = task.object;
  const photos = [...view.records.values()].filter((r) => r.entity === "photo" && !r.deleted);
  const lastFix = [...view.checkIns].reverse().find((c) => c.fields.latitude?.value);
  const photoContext = (checkItemId: string | null): PhotoContext => ({
    inspectorName: session.account.displayName,
    taskCode: task.code,
    objectName: o.name,
    checkItemId,
    position: lastFix
      ? {
          latitude: Number(lastFix.fields.latitude?.value),
          longitude: Number(lastFix.fields.longitude?.value),
        }
      : null,
  });
  const photosOf = (checkItemId: string | null) =>
    photos.filter((p) => (p.fields.check_item_id?.value ?? null) === checkItemId);
  return (
    <main>
      <header class="bar">
        <a class="back" href="#/">
          ‹ 任务
        </a>
        <h1>{o.name}</h1>
        <div class="small">
          {task.code} · {STATUS_TEXT[view.status] ?? view.status}
          {view.pending > 0 && <span class="badge pending">待同步 {view.pending}</span>}
        </div>
      </header>
      {(view.status === "returned" || view.status === "reopened") && task.review_note && (
        <p class="notice warn" role="status">
          <strong>{view.status === "returned" ? "退回原因：" : "更正原因："}</strong>
          {task.review_note}
        </p>
      )}
      {task.readOnly && (
        <p class="notice warn">这项任务已改派给他人：本机只读，未同步的内容会继续上传。</p>
      )}
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      <Conflicts conflicts={view.conflicts} view={view} editable={editable} run={run} />
      <Rejections rejections={view.rejections} view={view} />
      <section class="card">
        <h2>检查对象</h2>
        <dl>
          <dt>统一社会信用代码</dt>
          <dd>{o.uscc}</dd>
          <dt>住所</dt>
          <dd>{o.address}</dd>
          <dt>法定代表人</dt>
          <dd>
            {o.legal_representative}
            {o.legal_representative_phone && (
              <a class="tel" href={`tel:${o.legal_representative_phone}`}>
                {o.legal_representative_phone}
              </a>
            )}
          </dd>
          {o.contact_person && (
            <>
              <dt>联系人</dt>
              <dd>
                {o.contact_person} {o.contact_phone}
              </dd>
            </>
          )}
          <dt>任务</dt>
          <dd>
            {task.name}（截止 {task.due_on}）
          </dd>
        </dl>
      </section>
      <section class="card">
        <div class="row-between">
          <h2>检查人员</h2>
          <a class="button-link" href="#/credential">
            亮证
          </a>
        </div>
        <ul class="plain">
          {task.inspectors.map((i) => (
            <li key={i.id}>
              {i.display_name}
              {i.is_primary && <span class="badge">主检</span>} · {i.department_name}
              {i.certificate_no && <span class="muted small"> 执法证 {i.certificate_no}</span>}
            </li>
          ))}
        </ul>
      </section>
      <CheckIn view={view} editable={editable} run={run} />
      <section>
        <h2 class="pad">检查清单</h2>
        {task.items.map((item) => (
          <div class="card" key={item.item_code}>
            <h3>{item.name}</h3>
            <p class="muted small">
              {item.department_name} · {item.method} · 依据：{item.basis}
            </p>
            {item.checklist.map((point) => (
              <Point
                key={point.id}
                point={point}
                record={view.records.get(recordKey("check_item", point.check_item_id))}
                editable={editable && started}
                onSave={(edit) => run(() => setCheckItem(ws, taskId, point.check_item_id, edit))}
              >
                <Photos
                  taskId={taskId}
                  photos={photosOf(point.check_item_id)}
                  context={photoContext(point.check_item_id)}
                  editable={editable && started}
                  run={run}
                />
              </Point>
            ))}
          </div>
        ))}
      </section>
      <section class="card">
        <h2>现场照片</h2>
        <p class="muted small">门头、全景等不属于某一检查要点的照片。</p>
        <Photos
          taskId={taskId}
          photos={photosOf(null)}
          context={photoContext(null)}
          editable={editable && started}
          run={run}
        />
      </section>
      {started && <Result view={view} editable={editable} run={run} />}
      {started && <Signatures view={view} editable={editable} run={run} />}
      {editable && started && (
        <section class="pad">
          <a class="button-link big" href={`#/task/${taskId}/review`}>
            复核并提交
          </a>
        </section>
      )}
      {!started && editable && <p class="muted pad">签到后开始逐项检查。</p>}
    </main>
  );
}

function Point({
  point,
  record,
  editable,
  onSave,
  children,
}: {
  point: ChecklistPoint;
  record: LocalRecord | undefined;
  editable: boolean;
  onSave: (edit: { conforms?: boolean | null; problem_text?: string | null }) => Promise<void>;
  children: ComponentChildren;
}) {
  const conforms = fieldValue<boolean | null>(record, "conforms", null);
  const saved = fieldValue<string>(record, "problem_text", "");
  const [text, setText] = useState<string | null>(null);
  const pending = record?.pending ?? false;
  return (
    <div class="point" data-check-item={point.check_item_id}>
      <p>
        {point.ordinal + 1}. {point.content}
      </p>
      <fieldset class="choice">
        <legend class="sr-only">是否符合</legend>
        <button
          type="button"
          class={conforms === true ? "on yes" : ""}
          aria-pressed={conforms === true}
          disabled={!editable}
          onClick={() => void onSave({ conforms: true })}
        >
          符合
        </button>
        <button
          type="button"
          class={conforms === false ? "on no" : ""}
          aria-pressed={conforms === false}
          disabled={!editable}
          onClick={() => void onSave({ conforms: false })}
        >
          不符合
        </button>
      </fieldset>
      {(conforms === false || saved !== "") && (
        <label class="block">
          问题描述
          <textarea
            rows={3}
            disabled={!editable}
            value={text ?? saved}
            placeholder={point.default_problem_text}
            onInput={(e) => setText(e.currentTarget.value)}
            onBlur={() => {
              if (text !== null && text !== saved) {
                void onSave({ problem_text: text }).then(() => setText(null));
              }
            }}
          />
        </label>
      )}
      {children}
      {pending && <span class="muted small">本机已保存，待同步</span>}
    </div>
  );
}

function Conflicts({
  conflicts,
  view,
  editable,
  run,
}: {
  conflicts: ConflictRow[];
  view: TaskView;
  editable: boolean;
  run: (work: () => Promise<void>) => Promise<void>;
}) {
  const { ws } = useApp();
  const open = conflicts.filter((c) => c.status === "open");
  if (open.length === 0) {
    return null;
  }
  const points = view.task.items.flatMap((i) => i.checklist);
  const who = (side: Record<string, unknown>) => {
    const inspector = view.task.inspectors.find((i) => i.id === side.user_id);
    const ms = Number(String(side.hlc ?? "").split(".")[0]);
    return `${inspector?.display_name ?? "其他设备"} · ${ms ? dateTime(ms) : ""}`;
  };
  const what = (c: ConflictRow) => {
    const point = points.find((p) => p.check_item_id === c.entity_id);
    const place = point ? `第 ${point.ordinal + 1} 项 ${point.content}` : c.entity;
    return `${place} · ${FIELD_TEXT[c.field] ?? c.field}`;
  };
  return (
    <section class="card conflict">
      <h2>同时修改的冲突（{open.length}）</h2>
      <p class="small muted">
        两人离线时改了同一处：保留了时间较晚的修改，另一方的内容也在这里，供核对。
      </p>
      <ul class="plain">
        {open.map((c) => (
          <li key={c.id} data-conflict={c.id}>
            <div class="small">{what(c)}</div>
            <div>
              采用：<b>{valueText(c.winner.value)}</b>
              <span class="muted small"> {who(c.winner)}</span>
            </div>
            <div>
              另一方：<b>{valueText(c.loser.value)}</b>
              <span class="muted small"> {who(c.loser)}</span>
            </div>
            {view.resolving.has(c.id) ? (
              <div class="muted small">已处理，待同步</div>
            ) : (
              editable && (
                <div class="row">
                  <button
                    type="button"
                    onClick={() => void run(() => resolveConflict(ws, c, "keep"))}
                  >
                    保留采用的值
                  </button>
                  {c.field !== "_deleted" && (
                    <button
                      type="button"
                      onClick={() => void run(() => resolveConflict(ws, c, "other"))}
                    >
                      改用另一方
                    </button>
                  )}
                </div>
              )
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Rejections({ rejections, view }: { rejections: RejectedChange[]; view: TaskView }) {
  if (rejections.length === 0) {
    return null;
  }
  return (
    <section class="card rejected">
      <h2>未被接受的修改（{rejections.length}）</h2>
      <p class="small muted">服务器没有采用下面的修改；本机保留了原样，供核对后重新填写。</p>
      <ul class="plain">
        {rejections.map((r) => {
          const m = r.mutation;
          const current = m ? view.records.get(recordKey(m.entity, m.entity_id)) : undefined;
          return (
            <li key={r.key} data-rejection={r.mutation_id ?? r.key}>
              <div>
                <b>{REASON_TEXT[r.reason_code] ?? r.reason_code}</b>
              </div>
              {sentText(m).map((line) => (
                <div key={line}>您填写的：{line}</div>
              ))}
              {m !== null &&
                current !== undefined &&
                Object.keys(m.payload).map((name) => (
                  <div key={name}>现在的值：{valueText(current.fields[name]?.value)}</div>
                ))}
              <div class="muted small wrap">
                {r.reason} · {dateTime(r.at)}
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

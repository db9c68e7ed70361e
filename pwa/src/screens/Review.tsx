// 复核: everything the record will say, and what still stops a submit, before it is sent.
import { useState } from "preact/hooks";
import { currentContentHash } from "../commands/content";
import { checkMeasures, entries, type MeasureEntry } from "../commands/result";
import { submitTask } from "../commands/task";
import { CommandError } from "../commands/workspace";
import { fieldValue, recordKey } from "../db/view";
import { useApp } from "../ui/app-context";
import { dateTime, STATUS_TEXT } from "../ui/format";
import { useLive } from "../ui/live";
import { type TaskView, taskView } from "./task-view";

export function blockers(view: TaskView, measureTable: MeasureEntry[]): string[] {
  const problems: string[] = [];
  const measures = [...view.records.values()].filter((r) => r.entity === "measure" && !r.deleted);
  try {
    checkMeasures(
      measures.map((m) => fieldValue(m, "code", "")),
      measureTable,
    );
  } catch (error) {
    problems.push(`后续处置：${(error as Error).message}`);
  }
  const points = view.task.items.flatMap((i) => i.checklist);
  const unanswered = points.filter((p) => {
    const r = view.records.get(recordKey("check_item", p.check_item_id));
    return fieldValue<boolean | null>(r, "conforms", null) === null;
  });
  if (view.checkIns.length === 0) {
    problems.push("还没有签到");
  }
  if (unanswered.length > 0) {
    problems.push(`还有 ${unanswered.length} 个检查要点未选择“是否符合”`);
  }
  const records = [...view.records.values()];
  const result = records.find((r) => r.entity === "result");
  if (fieldValue<string[]>(result, "categories", []).length === 0) {
    problems.push("还没有选择检查结果");
  }
  const hash = currentContentHash(view.task.id, view.task.object.uscc, records);
  const signatures = records.filter((r) => r.entity === "signature" && !r.deleted);
  const fresh = signatures.filter((s) => fieldValue(s, "content_hash", "") === hash);
  for (const inspector of view.task.inspectors) {
    if (!fresh.some((s) => fieldValue(s, "signer_user_id", "") === inspector.id)) {
      problems.push(`检查人员 ${inspector.display_name} 未签名（或签名后内容已变更）`);
    }
  }
  if (!fresh.some((s) => fieldValue<string>(s, "signer", "") === "business")) {
    problems.push("被检查单位未签名或未记录拒签（或签名后内容已变更）");
  }
  return problems;
}

export function Review({ taskId }: { taskId: string }) {
  const { ws, sync } = useApp();
  const view = useLive(() => taskView(ws, taskId), [ws, taskId], undefined);
  const files = useLive(
    () =>
      ws.db.files
        .where("taskId")
        .equals(taskId)
        .filter((f) => f.state === "pending")
        .count(),
    [ws, taskId],
    0,
  );
  const measureTable = useLive(
    async () => entries<MeasureEntry>(await ws.db.codeTables.get("follow_up_measure")),
    [ws],
    [],
  );
  const [error, setError] = useState<string | null>(null);
  if (!view) {
    return <p class="muted pad">正在读取…</p>;
  }
  const problems = blockers(view, measureTable);
  const records = [...view.records.values()];
  const points = view.task.items.flatMap((i) => i.checklist);
  const nonConforming = points.filter(
    (p) =>
      fieldValue(view.records.get(recordKey("check_item", p.check_item_id)), "conforms", null) ===
      false,
  );
  const photos = records.filter((r) => r.entity === "photo" && !r.deleted);
  const submit = async () => {
    setError(null);
    try {
      await submitTask(ws, taskId);
      void sync();
      location.hash = `#/task/${taskId}`;
    } catch (e) {
      setError(e instanceof CommandError ? e.message : String(e));
    }
  };
  return (
    <main>
      <header class="bar">
        <a class="back" href={`#/task/${taskId}`}>
          ‹ 返回检查
        </a>
        <h1>复核并提交</h1>
        <div class="small">
          {view.task.object.name} · {STATUS_TEXT[view.status] ?? view.status}
        </div>
      </header>
      <section class="card">
        <h2>检查记录</h2>
        <dl>
          <dt>签到</dt>
          <dd>
            {view.checkIns.length > 0
              ? dateTime(view.checkIns[0]?.fields.at?.value as string)
              : "—"}
          </dd>
          <dt>检查要点</dt>
          <dd>
            共 {points.length} 项，不符合 {nonConforming.length} 项
          </dd>
          <dt>照片</dt>
          <dd>
            {photos.length} 张{files > 0 && `（${files} 个文件待上传）`}
          </dd>
          <dt>冲突</dt>
          <dd>{view.conflicts.filter((c) => c.status === "open").length} 个未处理（不影响提交）</dd>
        </dl>
      </section>
      {problems.length > 0 ? (
        <section class="card rejected" data-blockers>
          <h2>提交前还需完成</h2>
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </section>
      ) : (
        <section class="card">
          <p>
            内容完整。提交后不能再修改，如需更正请联系组长退回。没有网络时会在恢复网络后自动上传。
          </p>
        </section>
      )}
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      <section class="pad">
        <button
          type="button"
          class="primary big"
          disabled={problems.length > 0}
          onClick={() => void submit()}
        >
          确认提交
        </button>
      </section>
    </main>
  );
}

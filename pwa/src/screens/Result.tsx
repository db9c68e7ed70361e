import { useState } from "preact/hooks";
import {
  addMeasure,
  entries,
  type MeasureEntry,
  type ResultEntry,
  removeMeasure,
  setResult,
} from "../commands/result";
import { fieldValue, type LocalRecord } from "../db/view";
import { useApp } from "../ui/app-context";
import { useBusy } from "../ui/busy";
import { useLive } from "../ui/live";
import type { TaskView } from "./task-view";

type Run = (work: () => Promise<void>) => Promise<void>;

function baseOf(record: LocalRecord): Record<string, number> {
  const base: Record<string, number> = { _record: record.version ?? 0 };
  for (const [name, field] of Object.entries(record.fields)) {
    if (field.version !== null) {
      base[name] = field.version;
    }
  }
  return base;
}

export function Result({ view, editable, run }: { view: TaskView; editable: boolean; run: Run }) {
  const { ws } = useApp();
  const tables = useLive(
    async () => ({
      categories: entries<ResultEntry>(await ws.db.codeTables.get("result_category")),
      methods: entries<ResultEntry>(await ws.db.codeTables.get("verification_method")),
      measures: entries<MeasureEntry>(await ws.db.codeTables.get("follow_up_measure")),
    }),
    [ws],
    { categories: [], methods: [], measures: [] },
  );
  const records = [...view.records.values()];
  const result = records.find((r) => r.entity === "result");
  const measures = records.filter((r) => r.entity === "measure" && !r.deleted);
  const referrals = records.filter((r) => r.entity === "referral" && !r.deleted);
  if (result === undefined) {
    return null;
  }
  const chosen = fieldValue<string[]>(result, "categories", []);
  const methods = fieldValue<string[]>(result, "verification_methods", []);
  const toggle = (list: string[], code: string) =>
    list.includes(code) ? list.filter((c) => c !== code) : [...list, code];
  const save = (fields: { categories?: string[]; verification_methods?: string[] }) =>
    run(() => {
      const checkedAt = fieldValue<string | null>(result, "checked_at", null);
      const firstCheckIn = view.checkIns[0]?.fields.at?.value as string | undefined;
      return setResult(
        ws,
        view.task.id,
        result.id,
        baseOf(result),
        checkedAt
          ? fields
          : { ...fields, checked_at: firstCheckIn ?? new Date(ws.now()).toISOString() },
        tables.categories,
      );
    });
  return (
    <>
      <section class="card" data-section="result">
        <h2>检查结果</h2>
        <div class="options">
          {tables.categories.map((c) => (
            <button
              key={c.code}
              type="button"
              class={chosen.includes(c.code) ? "option on" : "option"}
              aria-pressed={chosen.includes(c.code)}
              disabled={!editable}
              onClick={() => void save({ categories: toggle(chosen, c.code) })}
            >
              {c.text}
            </button>
          ))}
        </div>
        <h3>核查方式</h3>
        <div class="options">
          {tables.methods.map((m) => (
            <button
              key={m.code}
              type="button"
              class={methods.includes(m.code) ? "option on" : "option"}
              aria-pressed={methods.includes(m.code)}
              disabled={!editable}
              onClick={() => void save({ verification_methods: toggle(methods, m.code) })}
            >
              {m.text}
            </button>
          ))}
        </div>
      </section>
      <section class="card" data-section="measures">
        <h2>后续处置</h2>
        <ul class="plain">
          {measures.map((m) => {
            const entry = tables.measures.find((e) => e.code === fieldValue(m, "code", ""));
            const own = referrals.filter((r) => fieldValue(r, "measure_id", "") === m.id);
            return (
              <li key={m.id} data-measure={m.id}>
                <b>{entry?.text ?? fieldValue(m, "code", "")}</b>
                {fieldValue(m, "text", "") && <div class="small">{fieldValue(m, "text", "")}</div>}
                {own.map((r) => (
                  <div key={r.id} class="small">
                    {fieldValue(r, "kind", "")}至 {fieldValue(r, "target", "")}：
                    {fieldValue(r, "findings", "")}
                  </div>
                ))}
                {editable && (
                  <button
                    type="button"
                    class="danger"
                    onClick={() =>
                      void run(() =>
                        removeMeasure(
                          ws,
                          view.task.id,
                          m,
                          own.map((r) => ({ id: r.id, version: r.version })),
                        ),
                      )
                    }
                  >
                    删除
                  </button>
                )}
              </li>
            );
          })}
        </ul>
        {editable && <AddMeasure view={view} choices={tables.measures} run={run} />}
      </section>
    </>
  );
}

function AddMeasure({ view, choices, run }: { view: TaskView; choices: MeasureEntry[]; run: Run }) {
  const { ws } = useApp();
  const [busy, guard] = useBusy();
  const [code, setCode] = useState("");
  const [text, setText] = useState("");
  const [target, setTarget] = useState("");
  const [findings, setFindings] = useState("");
  const chosen = choices.find((c) => c.code === code);
  const add = () =>
    guard(() =>
      run(async () => {
        if (chosen === undefined) {
          return;
        }
        await addMeasure(ws, view.task.id, chosen, { text, target, findings }, { table: choices });
        setCode("");
        setText("");
        setTarget("");
        setFindings("");
      }),
    );
  return (
    <div class="add-measure">
      <label>
        添加处置
        <select value={code} onChange={(e) => setCode(e.currentTarget.value)}>
          <option value="">请选择…</option>
          {choices.map((c) => (
            <option key={c.code} value={c.code}>
              {c.text}
            </option>
          ))}
        </select>
      </label>
      {chosen && (
        <>
          <label>
            说明{chosen.requires_text ? "（必填）" : "（可选）"}
            <textarea rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          {chosen.referral && (
            <>
              <label>
                {chosen.referral.kind}至（接收部门）
                <input
                  name="referral-target"
                  value={target}
                  placeholder={chosen.referral.target}
                  onInput={(e) => setTarget(e.currentTarget.value)}
                />
              </label>
              <label>
                发现的问题
                <textarea
                  name="referral-findings"
                  rows={3}
                  value={findings}
                  onInput={(e) => setFindings(e.currentTarget.value)}
                />
              </label>
            </>
          )}
          <button type="button" class="primary" disabled={busy} onClick={() => void add()}>
            添加
          </button>
        </>
      )}
    </div>
  );
}

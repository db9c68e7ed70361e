import { useEffect, useRef, useState } from "preact/hooks";
import type SignaturePad from "signature_pad";
import { currentContentHash } from "../commands/content";
import { type Signer, sign } from "../commands/signature";
import { fieldValue, type LocalRecord } from "../db/view";
import { useApp } from "../ui/app-context";
import { useBusy } from "../ui/busy";
import { dateTime } from "../ui/format";
import type { TaskView } from "./task-view";

type Run = (work: () => Promise<void>) => Promise<void>;

interface Slot {
  key: string;
  label: string;
  who: Signer;
  signature: LocalRecord | undefined;
}

export function Signatures({
  view,
  editable,
  run,
}: {
  view: TaskView;
  editable: boolean;
  run: Run;
}) {
  const { ws } = useApp();
  const [open, setOpen] = useState<string | null>(null);
  const records = [...view.records.values()];
  const signatures = records
    .filter((r) => r.entity === "signature" && !r.deleted)
    .sort((a, b) =>
      String(fieldValue(a, "signed_at", "")).localeCompare(String(fieldValue(b, "signed_at", ""))),
    );
  const latest = (match: (r: LocalRecord) => boolean) => [...signatures].reverse().find(match);
  const hash = currentContentHash(view.task.id, view.task.object.uscc, records);
  const slots: Slot[] = [
    ...view.task.inspectors.map((i) => ({
      key: i.id,
      label: `检查人员 ${i.display_name}`,
      who: { signer: "inspector" as const, userId: i.id, name: i.display_name },
      signature: latest((r) => fieldValue<string>(r, "signer_user_id", "") === i.id),
    })),
    {
      key: "business",
      label: "被检查单位",
      who: { signer: "business" as const, name: view.task.object.legal_representative },
      signature: latest((r) => fieldValue<string>(r, "signer", "") === "business"),
    },
  ];
  return (
    <section class="card" data-section="signatures">
      <h2>签名</h2>
      <ul class="plain">
        {slots.map((slot) => {
          const s = slot.signature;
          const stale = s !== undefined && fieldValue(s, "content_hash", "") !== hash;
          const refused =
            s === undefined ? null : fieldValue<{ reason: string } | null>(s, "refused", null);
          return (
            <li key={slot.key} data-signer={slot.key}>
              <div class="row-between">
                <span>
                  {slot.label}
                  {s === undefined && <span class="badge warn">未签名</span>}
                  {s !== undefined && !stale && (
                    <span class="badge ok">{refused ? "已记录拒签" : "已签名"}</span>
                  )}
                  {stale && <span class="badge warn">内容已变更，需重新签名</span>}
                </span>
                {editable && open !== slot.key && (
                  <button type="button" onClick={() => setOpen(slot.key)}>
                    {s === undefined ? "签名" : "重新签名"}
                  </button>
                )}
              </div>
              {s !== undefined && (
                <div class="muted small">
                  {fieldValue(s, "signer_name", "")} · {dateTime(fieldValue(s, "signed_at", null))}
                  {refused && ` · 拒签原因：${refused.reason}`}
                </div>
              )}
              {open === slot.key && (
                <SignPad
                  who={slot.who}
                  onCancel={() => setOpen(null)}
                  onDone={(mark, name) =>
                    run(async () => {
                      await sign(ws, view.task.id, { ...slot.who, name }, mark, records);
                      setOpen(null);
                    })
                  }
                />
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function SignPad({
  who,
  onCancel,
  onDone,
}: {
  who: Signer;
  onCancel: () => void;
  onDone: (
    mark: { image: Blob } | { refused: { reason: string; witness: string } },
    name: string,
  ) => Promise<void>;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const pad = useRef<SignaturePad | null>(null);
  const [name, setName] = useState(who.name);
  const [refusing, setRefusing] = useState(false);
  const [reason, setReason] = useState("");
  const [witness, setWitness] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, guard] = useBusy();
  useEffect(() => {
    let alive = true;
    void import("signature_pad").then(({ default: Pad }) => {
      const c = canvas.current;
      if (!alive || c === null) {
        return;
      }
      const ratio = Math.max(window.devicePixelRatio || 1, 1);
      c.width = c.offsetWidth * ratio;
      c.height = c.offsetHeight * ratio;
      c.getContext("2d")?.scale(ratio, ratio);
      c.dataset.ready = "true";
      pad.current = new Pad(c, {
        backgroundColor: "rgb(255,255,255)",
        penColor: "#000",
        minWidth: 1,
        maxWidth: 3,
      });
    });
    return () => {
      alive = false;
      pad.current?.off();
    };
  }, []);
  const confirm = async () => {
    setError(null);
    if (refusing) {
      await onDone({ refused: { reason, witness } }, name);
      return;
    }
    if (pad.current === null || pad.current.isEmpty()) {
      setError("请在框内签名");
      return;
    }
    const blob = await (await fetch(pad.current.toDataURL("image/png"))).blob();
    await onDone({ image: blob }, name);
  };
  return (
    <div class="signpad">
      <label>
        签名人
        <input name="signer-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      {!refusing && (
        <>
          <canvas ref={canvas} class="pad" aria-label="签名区域" />
          <div class="row">
            <button type="button" onClick={() => pad.current?.clear()}>
              清除
            </button>
            <button type="button" onClick={onCancel}>
              取消
            </button>
          </div>
        </>
      )}
      {who.signer === "business" && (
        <label class="check">
          <input
            type="checkbox"
            checked={refusing}
            onChange={(e) => setRefusing(e.currentTarget.checked)}
          />
          被检查单位拒绝签名（拒签）
        </label>
      )}
      {refusing && (
        <>
          <label>
            拒签原因
            <textarea
              name="refusal-reason"
              rows={2}
              value={reason}
              onInput={(e) => setReason(e.currentTarget.value)}
            />
          </label>
          <label>
            见证人
            <input
              name="refusal-witness"
              value={witness}
              onInput={(e) => setWitness(e.currentTarget.value)}
            />
          </label>
        </>
      )}
      {error && <p class="error">{error}</p>}
      <button type="button" class="primary big" disabled={busy} onClick={() => void guard(confirm)}>
        {refusing ? "记录拒签" : "确认签名"}
      </button>
    </div>
  );
}

import { useState } from "preact/hooks";
import { checkIn, type Position } from "../commands/task";
import { useApp } from "../ui/app-context";
import { useBusy } from "../ui/busy";
import { dateTime } from "../ui/format";
import type { TaskView } from "./task-view";

type Fix =
  | { state: "idle" }
  | { state: "locating" }
  | { state: "found"; position: Position }
  | { state: "failed"; why: string };

function locate(): Promise<Position> {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) {
      reject(new Error("本机不支持定位"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) =>
        resolve({
          latitude: p.coords.latitude,
          longitude: p.coords.longitude,
          accuracyM: p.coords.accuracy,
        }),
      (e) => reject(new Error(e.code === e.PERMISSION_DENIED ? "定位权限被拒绝" : "暂时无法定位")),
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 60_000 },
    );
  });
}

export function CheckIn({
  view,
  editable,
  run,
}: {
  view: TaskView;
  editable: boolean;
  run: (work: () => Promise<void>) => Promise<void>;
}) {
  const { ws } = useApp();
  const [fix, setFix] = useState<Fix>({ state: "idle" });
  const [busy, guard] = useBusy();
  const [reason, setReason] = useState("");
  const taskId = view.task.id;
  const find = async () => {
    setFix({ state: "locating" });
    try {
      setFix({ state: "found", position: await locate() });
    } catch (e) {
      setFix({ state: "failed", why: (e as Error).message });
    }
  };
  return (
    <section class="card">
      <h2>现场签到</h2>
      {view.checkIns.map((c) => (
        <p key={c.id} class="small" data-check-in={c.id}>
          ✔ {dateTime(c.fields.at?.value as string)}{" "}
          {c.fields.latitude?.value
            ? `定位 ${String(c.fields.latitude.value)}, ${String(c.fields.longitude?.value)}（精度约 ${String(c.fields.accuracy_m?.value)} 米）`
            : `无定位：${String(c.fields.no_gps_reason?.value ?? "")}`}
          {c.pending && <span class="muted"> · 待同步</span>}
        </p>
      ))}
      {editable && (
        <>
          {fix.state === "idle" && (
            <button type="button" class="primary big" onClick={() => void find()}>
              {view.checkIns.length > 0 ? "再次签到" : "签到并开始检查"}
            </button>
          )}
          {fix.state === "locating" && <p>正在定位…</p>}
          {fix.state === "found" && (
            <>
              <p>
                定位精度约 <b>{Math.round(fix.position.accuracyM)}</b> 米
                {fix.position.accuracyM > 100 && "（精度较差，可到室外再试）"}
              </p>
              <button
                type="button"
                class="primary big"
                disabled={busy}
                onClick={() =>
                  void guard(() =>
                    run(async () => {
                      await checkIn(ws, taskId, { position: fix.position });
                      setFix({ state: "idle" });
                    }),
                  )
                }
              >
                确认签到
              </button>
            </>
          )}
          {fix.state === "failed" && (
            <>
              <p class="error">{fix.why}。请写明没有定位的原因后签到：</p>
              <textarea
                rows={2}
                value={reason}
                placeholder="例如：地下商场无信号"
                onInput={(e) => setReason(e.currentTarget.value)}
              />
              <div class="row">
                <button type="button" onClick={() => void find()}>
                  重新定位
                </button>
                <button
                  type="button"
                  class="primary"
                  disabled={busy}
                  onClick={() =>
                    void guard(() =>
                      run(async () => {
                        await checkIn(ws, taskId, { noGpsReason: reason });
                        setFix({ state: "idle" });
                        setReason("");
                      }),
                    )
                  }
                >
                  无定位签到
                </button>
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}

// `zsjg bench pwa`, in the browser: store a 500-task pull with the app's own sync client
// (Dexie, one transaction for all pages) against a raw IndexedDB write of the same objects in
// one transaction — the baseline, measured in the same run.
import { apiClient } from "../src/api/http";
import type { PulledTask, PullResponse } from "../src/api/types";
import { UserDb } from "../src/db/user-db";
import { SyncClient } from "../src/sync/client";

const TASKS = 500;
const POINTS = 6;
const ROUNDS = 5;

function uuid(n: number, kind: number): string {
  const hex = (n * 16 + kind).toString(16).padStart(12, "0");
  return `00000000-0000-4000-8000-${hex}`;
}

function pull(): PullResponse {
  const tasks: PulledTask[] = [];
  const records: PullResponse["records"] = [];
  for (let t = 0; t < TASKS; t++) {
    const id = uuid(t, 1);
    const checklist = Array.from({ length: POINTS }, (_, p) => ({
      id: uuid(t * 100 + p, 2),
      check_item_id: uuid(t * 100 + p, 3),
      ordinal: p,
      content: `检查要点 ${p + 1}：是否取得许可证并在有效期内，许可证是否在经营场所显著位置悬挂或摆放`,
      method: "现场检查",
      default_problem_text: "",
    }));
    tasks.push({
      id,
      code: `YD-2026-BENCH-${t}`,
      name: `双随机抽查：于都县测试商户 ${t}`,
      status: "assigned",
      version: t + 1,
      issued_on: "2026-11-01",
      due_on: "2026-12-20",
      deadlines: {
        due_at: "2026-12-20T16:00:00Z",
        entry_deadline_at: null,
        publication_deadline_at: null,
        calendar_complete: true,
        assumed_years: [],
        warning: null,
      },
      light: {
        color: "green",
        phase: "due",
        deadline_at: null,
        seconds_left: null,
        reason: "按期进行中",
      },
      object: {
        id: uuid(t, 4),
        uscc: "91360731MA35XY0128",
        name: `于都县测试商户 ${t}`,
        kind: "企业",
        address: "江西省赣州市于都县贡江镇马安路159号",
        legal_representative: "李英",
        legal_representative_phone: "17299198763",
        contact_person: null,
        contact_phone: null,
        industry: "餐饮服务",
        risk_level: null,
        credit_class: null,
        latitude: null,
        longitude: null,
      },
      inspectors: [],
      items: [
        {
          item_code: "SJ-CY-001",
          item_version: 1,
          name: "餐饮服务提供者监督检查",
          basis: "《中华人民共和国食品安全法》第一百一十条",
          category: "一般检查事项",
          method: "实地检查、书面检查",
          qualification_area: "food",
          department_id: uuid(1, 5),
          department_name: "于都县市场监督管理局",
          checklist,
        },
      ],
    } as unknown as PulledTask);
    for (const point of checklist) {
      records.push({
        entity: "check_item",
        id: point.check_item_id,
        task_id: id,
        version: t + 1,
        deleted: false,
        fields: {},
      });
    }
    records.push({
      entity: "result",
      id: uuid(t, 6),
      task_id: id,
      version: t + 1,
      deleted: false,
      fields: {},
    });
  }
  return {
    server_epoch: "bench",
    reset: false,
    cursor: 0,
    next_cursor: TASKS,
    until: TASKS,
    has_more: false,
    last_seq: 0,
    tasks,
    records,
    conflicts: [],
    rejections: [],
    revocations: [],
    code_tables: [],
  };
}

async function appStore(page: PullResponse, round: number): Promise<number> {
  const db = new UserDb(`bench-app-${round}`);
  const api = apiClient(null, location.origin, async () => Response.json(page));
  const client = new SyncClient({ db, userId: "bench", deviceId: "bench", now: Date.now }, api);
  const started = performance.now();
  await client.pull();
  const took = performance.now() - started;
  db.close();
  await db.delete();
  return took;
}

function rawStore(page: PullResponse, round: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const name = `bench-raw-${round}`;
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore("tasks", { keyPath: "id" });
      open.result.createObjectStore("records", { keyPath: ["entity", "id"] });
    };
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const started = performance.now();
      // the same work as the app: the response is parsed from JSON, then written in one transaction
      const data = JSON.parse(JSON.stringify(page)) as PullResponse;
      const tx = db.transaction(["tasks", "records"], "readwrite");
      for (const task of data.tasks) tx.objectStore("tasks").put(task);
      for (const record of data.records) tx.objectStore("records").put(record);
      tx.oncomplete = () => {
        const took = performance.now() - started;
        db.close();
        indexedDB.deleteDatabase(name);
        resolve(took);
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function run(): Promise<void> {
  const page = pull();
  const app: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    raw.push(await rawStore(page, round));
    app.push(await appStore(page, round));
  }
  const result = {
    tasks: TASKS,
    records: page.records.length,
    raw_ms: median(raw),
    app_ms: median(app),
    bytes: JSON.stringify(page).length,
  };
  (window as unknown as { benchResult: unknown }).benchResult = result;
  const state = document.getElementById("state");
  if (state) state.textContent = "done";
}

void run().catch((error: unknown) => {
  (window as unknown as { benchResult: unknown }).benchResult = { error: String(error) };
});

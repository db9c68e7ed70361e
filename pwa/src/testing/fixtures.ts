// Test helpers: a user database in fake-indexeddb, a task as a pull brings it, and a fake
// backend answering push and pull the way docs/sync-protocol.md says.
import { type Api, apiClient } from "../api/http";
import type { PulledTask, PullResponse, PushResponse } from "../api/types";
import type { Workspace } from "../commands/workspace";
import { type Mutation, type RecordRow, UserDb } from "../db/user-db";

export const TASK_ID = "a5b297f4-70fd-5aa2-995a-5cf042216917";
export const ITEM_ID = "2b9c0e55-1c36-5b3e-9d32-4a1f1c2e0001";
export const DEVICE = "0f8fad5b-d9cb-469f-a165-70867728950e";
export const USER = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
export const NOW = Date.parse("2026-11-30T02:00:00Z");

let counter = 0;

export function workspace(userId = USER, deviceId = DEVICE): Workspace {
  counter += 1;
  const db = new UserDb(`${userId}-${counter}-${Math.random().toString(36).slice(2)}`);
  return { db, userId, deviceId, now: () => NOW };
}

export function pulledTask(overrides: Partial<PulledTask> = {}): PulledTask {
  return {
    id: TASK_ID,
    code: "YD-2026-SJ-02-0001",
    name: "双随机抽查",
    status: "in_progress",
    version: 5,
    issued_on: "2026-11-01",
    due_on: "2026-12-10",
    deadlines: {
      due_at: "2026-12-10T16:00:00Z",
      entry_deadline_at: null,
      publication_deadline_at: null,
      calendar_complete: true,
      assumed_years: [],
      warning: null,
    },
    light: { color: "green", phase: "due", deadline_at: null, seconds_left: null, reason: "" },
    object: {
      id: "11111111-1111-4111-8111-111111111111",
      uscc: "91360731MA35XY0128",
      name: "于都县测试商店",
      kind: "企业",
      address: "于都县",
      legal_representative: "张三",
      legal_representative_phone: null,
      contact_person: null,
      contact_phone: null,
      industry: null,
      risk_level: null,
      credit_class: null,
      latitude: null,
      longitude: null,
    },
    inspectors: [],
    items: [],
    ...overrides,
  } as PulledTask;
}

export function checkItem(version = 3, conforms: boolean | null = null): RecordRow {
  return {
    entity: "check_item",
    id: ITEM_ID,
    task_id: TASK_ID,
    version,
    deleted: false,
    fields:
      conforms === null
        ? {}
        : { conforms: { value: conforms, version, hlc: "x", client_id: "server" } },
  };
}

export function page(overrides: Partial<PullResponse> = {}): PullResponse {
  return {
    server_epoch: "epoch-1",
    reset: false,
    cursor: 0,
    next_cursor: 10,
    until: 10,
    has_more: false,
    last_seq: 0,
    tasks: [],
    records: [],
    conflicts: [],
    rejections: [],
    revocations: [],
    code_tables: null,
    ...overrides,
  };
}

export interface FakeServer {
  pushes: Mutation[][];
  pulls: Record<string, unknown>[];
  api: Api;
}

/** A backend whose push answers `push(mutations)` and whose pull answers the next page given. */
export function fakeServer(
  pages: PullResponse[],
  push: (mutations: Mutation[]) => Partial<PushResponse> = () => ({}),
): FakeServer {
  const pushes: Mutation[][] = [];
  const pulls: Record<string, unknown>[] = [];
  const api = apiClient(null, "http://zsjg.test", async (request) => {
    const url = request.url;
    const body = (await request.json()) as Record<string, unknown>;
    if (url.endsWith("/sync/push")) {
      const mutations = body.mutations as Mutation[];
      pushes.push(mutations);
      const answer: PushResponse = {
        server_epoch: "epoch-1",
        last_seq: mutations[mutations.length - 1]?.seq ?? 0,
        expected_seq: null,
        results: mutations.map((m) => ({
          mutation_id: m.id,
          seq: m.seq,
          outcome: "applied",
          flags: [],
        })),
        ...push(mutations),
      };
      return Response.json(answer);
    }
    if (url.endsWith("/sync/pull")) {
      pulls.push(body);
      const next = pages.shift();
      return next
        ? Response.json(next)
        : Response.json({ title: "no more pages" }, { status: 500 });
    }
    return Response.json({ title: "not found" }, { status: 404 });
  });
  return { pushes, pulls, api };
}

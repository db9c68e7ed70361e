// Every shared vector (sync/vectors/*.json) for the client runs against the in-memory replica,
// driven and checked as tests/sync/vectors.py drives and checks them for the server.
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, test } from "vitest";
import {
  type Conflict,
  encodeJson,
  HybridClock,
  type JsonValue,
  loadRecord,
  parseJson,
  Replica,
  ReplicaStore,
  type Side,
  type WireRecord,
} from "./index";
import { compareTuples } from "./py";

interface VectorTask {
  id: string;
  status: string;
  assignees: string[];
  past_assignees: string[];
  uscc: string;
}

interface ResolveSpec {
  client_id: string;
  mutation_id: string;
  seq: number;
  hlc: string;
  task_id: string;
}

interface Step {
  push?: string;
  mutations?: JsonValue[];
  reassign?: { task: string; assignees: string[] };
  server_status?: { task: string; to: string };
  resolve_first_conflict?: ResolveSpec;
  check_signatures?: Record<string, boolean>;
}

interface SideView {
  value: JsonValue;
  hlc: string;
  client_id: string;
  mutation_id: string | null;
}

interface ConflictView {
  entity: string;
  entity_id: string;
  field: string;
  winner: SideView;
  loser: SideView;
  status: string;
}

interface RecordView {
  entity: string;
  id: string;
  deleted: boolean;
  fields: Record<string, { value: JsonValue; hlc: string; client_id: string }>;
}

interface Expected {
  outcomes?: Record<string, string>;
  push_outcomes?: string[][];
  expected_seq?: number[];
  rejections?: { mutation_id: string | null; reason_code: string }[];
  amendments?: string[];
  conflicts?: ConflictView[];
  records?: RecordView[];
  task_status?: Record<string, string>;
  last_seq?: Record<string, number>;
  flags?: Record<string, string[]>;
  revoked?: Record<string, string[]>;
  stale_signatures?: Record<string, boolean>;
  content_hash?: Record<string, string>;
}

interface VectorCase {
  name: string;
  applies_to: string[];
  server_time_ms: number;
  initial: {
    seq: number;
    devices: { client_id: string; user_id: string }[];
    tasks: VectorTask[];
    records: WireRecord[];
  };
  steps: Step[];
  expected: Expected;
}

interface Run {
  replica: Replica;
  pushOutcomes: string[][];
  expectedSeqs: number[];
  flags: Map<string, string[]>;
}

const DIR = new URL("../../../../sync/vectors/", import.meta.url);
const FILES = readdirSync(DIR)
  .filter((name) => name.endsWith(".json") && name !== "schema.json")
  .sort();
// read with the engine's own reader, as msgspec reads them: a float stays a float
const CASES = FILES.map((file) => ({
  file,
  vector: parseJson(readFileSync(new URL(file, DIR), "utf-8")) as unknown as VectorCase,
}));
const FOR_CLIENT = CASES.filter((c) => c.vector.applies_to.includes("client"));

function replicaOf(vector: VectorCase): Replica {
  const { initial } = vector;
  const store = new ReplicaStore({ seq: initial.seq });
  for (const t of initial.tasks) {
    store.saveTask({
      id: t.id,
      status: t.status,
      assignees: new Set(t.assignees),
      past_assignees: new Set(t.past_assignees),
      uscc: t.uscc,
      version: initial.seq,
    });
  }
  for (const r of initial.records) {
    store.saveRecord(loadRecord(r));
  }
  const replica = new Replica(new HybridClock(() => vector.server_time_ms), store);
  for (const d of initial.devices) {
    replica.registerDevice(d.client_id, d.user_id);
  }
  return replica;
}

function raw(mutation: JsonValue): string {
  return typeof mutation === "string" ? mutation : encodeJson(mutation);
}

function push(run: Run, clientId: string, raws: string[], keepFlags: boolean): void {
  const outcome = run.replica.push(clientId, raws);
  run.pushOutcomes.push(outcome.results.map((r) => r.outcome));
  if (keepFlags) {
    if (outcome.expected_seq !== null) {
      run.expectedSeqs.push(outcome.expected_seq);
    }
    for (const r of outcome.results) {
      if (r.mutation_id) {
        run.flags.set(r.mutation_id, [...r.flags]);
      }
    }
  }
}

function resolveOnlyConflict(run: Run, spec: ResolveSpec): void {
  const conflicts = [...run.replica.store.conflicts.values()];
  expect(conflicts).toHaveLength(1);
  const id = conflicts[0]?.id ?? "";
  const mutation = {
    id: spec.mutation_id,
    client_id: spec.client_id,
    seq: spec.seq,
    hlc: spec.hlc,
    kind: "resolve_conflict",
    entity: "conflict",
    entity_id: id,
    task_id: spec.task_id,
    payload: { conflict_id: id },
  };
  push(run, spec.client_id, [encodeJson(mutation)], false);
}

function staleSignatures(replica: Replica): Record<string, boolean> {
  const stale: Record<string, boolean> = {};
  for (const taskId of replica.store.tasks.keys()) {
    for (const [id, isStale] of replica.staleSignatures(taskId)) {
      stale[id] = isStale;
    }
  }
  return stale;
}

function runSteps(vector: VectorCase): Run {
  const run: Run = {
    replica: replicaOf(vector),
    pushOutcomes: [],
    expectedSeqs: [],
    flags: new Map(),
  };
  for (const step of vector.steps) {
    if (step.push !== undefined) {
      push(run, step.push, (step.mutations ?? []).map(raw), true);
    } else if (step.reassign !== undefined) {
      run.replica.reassign(step.reassign.task, step.reassign.assignees);
    } else if (step.server_status !== undefined) {
      run.replica.setStatus(step.server_status.task, step.server_status.to);
    } else if (step.resolve_first_conflict !== undefined) {
      resolveOnlyConflict(run, step.resolve_first_conflict);
    } else if (step.check_signatures !== undefined) {
      expect(staleSignatures(run.replica)).toStrictEqual(step.check_signatures);
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
  return run;
}

function sideView(side: Side): SideView {
  return {
    value: side.value,
    hlc: side.hlc,
    client_id: side.client_id,
    mutation_id: side.mutation_id,
  };
}

function conflictView(c: Conflict): ConflictView {
  return {
    entity: c.entity,
    entity_id: c.entity_id,
    field: c.field,
    winner: sideView(c.winner),
    loser: sideView(c.loser),
    status: c.status,
  };
}

function sortConflicts(conflicts: ConflictView[]): ConflictView[] {
  const key = (c: ConflictView): string[] => [
    c.entity,
    c.entity_id,
    c.field,
    c.loser.mutation_id ?? "",
  ];
  return [...conflicts].sort((a, b) => compareTuples(key(a), key(b)));
}

function recordView(run: Run, want: RecordView): RecordView {
  const record = run.replica.store.record(want.entity, want.id);
  expect(record, want.id).not.toBeNull();
  const fields: RecordView["fields"] = {};
  for (const [name, f] of record?.fields ?? []) {
    fields[name] = { value: f.value, hlc: f.hlc, client_id: f.client_id };
  }
  return {
    entity: record?.entity ?? "",
    id: record?.id ?? "",
    deleted: record?.deleted ?? false,
    fields,
  };
}

function checkLog(expected: Expected, run: Run): void {
  const { store } = run.replica;
  if (expected.outcomes !== undefined) {
    const outcomes: Record<string, string> = {};
    for (const { mutation_id, outcome } of store.outcomes.values()) {
      outcomes[mutation_id] = outcome;
    }
    expect(outcomes).toStrictEqual(expected.outcomes);
  }
  if (expected.push_outcomes !== undefined) {
    expect(run.pushOutcomes).toStrictEqual(expected.push_outcomes);
  }
  if (expected.expected_seq !== undefined) {
    expect(run.expectedSeqs).toStrictEqual(expected.expected_seq);
  }
  if (expected.rejections !== undefined) {
    const got = store.rejections.map((r) => ({
      mutation_id: r.mutation_id,
      reason_code: r.reason_code,
    }));
    expect(got).toStrictEqual(expected.rejections);
  }
  if (expected.amendments !== undefined) {
    expect(store.amendments.map((a) => a.mutation_id)).toStrictEqual(expected.amendments);
  }
  for (const [client, seq] of Object.entries(expected.last_seq ?? {})) {
    expect(store.lastSeq(client), client).toBe(seq);
  }
  for (const [mutationId, flags] of Object.entries(expected.flags ?? {})) {
    expect(run.flags.get(mutationId), mutationId).toStrictEqual(flags);
  }
}

function checkState(expected: Expected, run: Run): void {
  const { replica } = run;
  if (expected.conflicts !== undefined) {
    const got = sortConflicts([...replica.store.conflicts.values()].map(conflictView));
    expect(got).toStrictEqual(sortConflicts(expected.conflicts));
  }
  for (const want of expected.records ?? []) {
    expect(recordView(run, want)).toStrictEqual(want);
  }
  for (const [taskId, status] of Object.entries(expected.task_status ?? {})) {
    expect(replica.store.task(taskId)?.status, taskId).toBe(status);
  }
  for (const [client, tasks] of Object.entries(expected.revoked ?? {})) {
    expect(replica.pull(client, 0).revocations).toStrictEqual(tasks);
  }
  if (expected.stale_signatures !== undefined) {
    expect(staleSignatures(replica)).toStrictEqual(expected.stale_signatures);
  }
  for (const [taskId, digest] of Object.entries(expected.content_hash ?? {})) {
    expect(replica.contentHash(taskId), taskId).toBe(digest);
  }
}

describe("the shared sync vectors", () => {
  let ran = 0;

  test("every vector for the client is here, with a unique name", () => {
    expect(FOR_CLIENT.length).toBeGreaterThanOrEqual(59);
    expect(FOR_CLIENT.length).toBe(
      CASES.filter((c) => c.vector.applies_to.includes("client")).length,
    );
    expect(new Set(CASES.map((c) => c.vector.name)).size).toBe(CASES.length);
  });

  for (const { file, vector } of FOR_CLIENT) {
    test(file, () => {
      ran++;
      const run = runSteps(vector);
      checkLog(vector.expected, run);
      checkState(vector.expected, run);
    });
  }

  afterAll(() => {
    // none skipped silently: every client vector ran
    expect(ran).toBe(FOR_CLIENT.length);
  });
});

// Every write of pending work: the mutation gets the device's next seq and HLC stamp and goes
// into the outbox in the same Dexie transaction as whatever else the command writes.
import { META, type Mutation, type OutboxRow } from "../db/user-db";
import { nextHlc } from "./hlc";
import type { Workspace } from "./workspace";

export type Draft = Omit<Mutation, "id" | "client_id" | "seq" | "hlc">;

/** Adds the mutations to the outbox; call inside a transaction that includes outbox and meta. */
export async function enqueue(ws: Workspace, drafts: Draft[]): Promise<Mutation[]> {
  const { db } = ws;
  let seq = await db.getMeta<number>(META.nextSeq, 1);
  const lastHlc = await db.getMeta<string | null>(META.lastHlc, null);
  let stamp = lastHlc;
  const createdAt = new Date(ws.now()).toISOString();
  const made: Mutation[] = [];
  for (const draft of drafts) {
    stamp = nextHlc(stamp, ws.now(), ws.deviceId);
    const mutation: Mutation = {
      ...draft,
      id: crypto.randomUUID(),
      client_id: ws.deviceId,
      seq,
      hlc: stamp,
    };
    const row: OutboxRow = { seq, taskId: draft.task_id, mutation, createdAt, result: null };
    await db.outbox.add(row);
    made.push(mutation);
    seq += 1;
  }
  await db.setMeta(META.nextSeq, seq);
  if (stamp !== null) {
    await db.setMeta(META.lastHlc, stamp);
  }
  return made;
}

// The device's hybrid logical clock: "{ms:015d}.{counter:06d}.{client_id}" (docs/sync-protocol.md).
// Stamps only move forward, even when the phone's clock is set back.

export interface Stamp {
  ms: number;
  counter: number;
}

export function parseHlc(hlc: string): Stamp {
  const [ms, counter] = hlc.split(".");
  return { ms: Number(ms), counter: Number(counter) };
}

export function formatHlc(stamp: Stamp, clientId: string): string {
  return `${String(stamp.ms).padStart(15, "0")}.${String(stamp.counter).padStart(6, "0")}.${clientId}`;
}

export function nextStamp(last: Stamp | null, nowMs: number): Stamp {
  if (last === null || nowMs > last.ms) {
    return { ms: nowMs, counter: 0 };
  }
  return { ms: last.ms, counter: last.counter + 1 };
}

// The device's next hybrid-logical-clock stamp (the format is the engine's `Hlc`): stamps only
// move forward, even when the phone's clock is set back.
import { Hlc } from "../sync/engine";

export function nextHlc(last: string | null, nowMs: number, clientId: string): string {
  const previous = last === null ? null : Hlc.parse(last);
  const next =
    previous === null || nowMs > previous.ms
      ? new Hlc(nowMs, 0, clientId)
      : new Hlc(previous.ms, previous.counter + 1, clientId);
  return next.toString();
}

// The hybrid logical clock: "{ms:015d}.{counter:06d}.{client_id}", compared as strings.
// The wall clock is injected. A remote time more than MAX_DRIFT_MS ahead of the local wall
// clock is not trusted: it is clamped for ordering and flagged.

import { InvalidHlc } from "./errors";
import { decimalValue, sliceCodePoints, strRepr } from "./py";

/** A remote physical time more than 10 minutes ahead of the receiver is clamped. */
export const MAX_DRIFT_MS = 10 * 60 * 1000;
export const SERVER_NODE = "server";
const MAX_COUNTER = 999_999;
const FORMAT = /^([0-9]{15})\.([0-9]{6})\.([A-Za-z0-9_-]{1,64})$/;

export class Hlc {
  constructor(
    readonly ms: number,
    readonly counter: number,
    readonly node: string,
  ) {}

  toString(): string {
    return `${String(this.ms).padStart(15, "0")}.${String(this.counter).padStart(6, "0")}.${this.node}`;
  }

  static parse(text: string): Hlc {
    const match = FORMAT.exec(text);
    if (match === null) {
      throw new InvalidHlc(`not an HLC: ${strRepr(sliceCodePoints(text, 80))}`);
    }
    return new Hlc(decimalValue(match[1] ?? ""), decimalValue(match[2] ?? ""), match[3] ?? "");
  }
}

/** What the receiver makes of a remote stamp: the stamp used for ordering, and whether it was clamped. */
export interface Observed {
  readonly effective: Hlc;
  readonly skewed: boolean;
}

/** A node's HLC. `wall` returns the physical time in milliseconds since the epoch. */
export class HybridClock {
  private lastStamp: Hlc;

  constructor(
    private readonly wall: () => number,
    private readonly node: string = SERVER_NODE,
  ) {
    this.lastStamp = new Hlc(0, 0, node);
  }

  get last(): Hlc {
    return this.lastStamp;
  }

  private advance(ms: number, counter: number): Hlc {
    const [m, c] = counter > MAX_COUNTER ? [ms + 1, 0] : [ms, counter];
    this.lastStamp = new Hlc(m, c, this.node);
    return this.lastStamp;
  }

  /** A stamp for a local event, greater than every stamp this clock has seen. */
  now(): Hlc {
    const wall = this.wall();
    if (wall > this.lastStamp.ms) {
      return this.advance(wall, 0);
    }
    return this.advance(this.lastStamp.ms, this.lastStamp.counter + 1);
  }

  /** Takes a remote stamp into account; a stamp too far in the future is clamped and flagged. */
  observe(remote: Hlc): Observed {
    const limit = this.wall() + MAX_DRIFT_MS;
    const skewed = remote.ms > limit;
    const effective = skewed ? new Hlc(limit, remote.counter, remote.node) : remote;
    const last = this.lastStamp;
    if (effective.ms > last.ms || (effective.ms === last.ms && effective.counter > last.counter)) {
      this.advance(effective.ms, effective.counter);
    }
    return { effective, skewed };
  }
}

// What every command needs: the user's database, this install's device id, and a clock.
import type { UserDb } from "../db/user-db";

export interface Workspace {
  db: UserDb;
  userId: string;
  deviceId: string;
  /** Milliseconds since the epoch (injected in tests). */
  now: () => number;
}

/** Bad input: nothing was written, and the message says what to change. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

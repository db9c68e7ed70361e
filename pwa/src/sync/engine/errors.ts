// The error hierarchy of the engine (sync/_errors.py):
//
//   SyncError
//   ├── CanonicalFormError   a value cannot be put in canonical form
//   ├── InvalidHlc           a stamp that is not "{ms:015d}.{counter:06d}.{client_id}"
//   └── InvalidMutation      a mutation that can never apply (carries a reason code)
//
// Invalid mutations are never thrown out of a push: the engine turns them into stored
// rejections. DecodeError is the JSON reader's own (msgspec.DecodeError in Python).

export class SyncError extends Error {
  override name = "SyncError";
}

export class CanonicalFormError extends SyncError {
  override name = "CanonicalFormError";
}

export class InvalidHlc extends SyncError {
  override name = "InvalidHlc";
}

/** Rejection reason codes (docs/sync-protocol.md). */
export type ReasonCode =
  | "invalid"
  | "unauthorized"
  | "unknown_task"
  | "unknown_entity"
  | "unknown_record"
  | "id_taken"
  | "immutable"
  | "not_deletable"
  | "deleted";

export class InvalidMutation extends SyncError {
  override name = "InvalidMutation";
  readonly code: ReasonCode;
  readonly reason: string;

  constructor(code: ReasonCode, reason: string) {
    super(reason);
    this.code = code;
    this.reason = reason;
  }
}

export class DecodeError extends Error {
  override name = "DecodeError";
}

// The phone's sync engine: a port of the pure Python engine in sync/ (docs/sync-protocol.md).
// The shared vectors in sync/vectors/ hold both to the same results.

export { canonicalDigest, canonicalJson, checkCanonical } from "./canonical";
export { type Device, Engine } from "./engine";
export { ENTITIES, type EntitySpec, validate } from "./entities";
export {
  CanonicalFormError,
  DecodeError,
  InvalidHlc,
  InvalidMutation,
  type ReasonCode,
  SyncError,
} from "./errors";
export { Hlc, HybridClock, MAX_DRIFT_MS, type Observed, SERVER_NODE } from "./hlc";
export { encodeJson, JsonFloat, type JsonObject, type JsonValue, parseJson } from "./json";
export { DELETED } from "./merge";
export {
  decodeMutation,
  type Kind,
  type Mutation,
  type MutationResult,
  PROTOCOL_VERSION,
  type PushOutcome,
  SUPPORTED_PROTOCOLS,
} from "./messages";
export { type Peek, type Place, peek, place } from "./place";
export {
  loadRecord,
  type Pulled,
  Replica,
  ReplicaStore,
  type Revocation,
  type WireRecord,
  type WireRegister,
} from "./replica";
export { sha256Hex } from "./sha256";
export { contentHash, isStale, signedContent } from "./signing";
export {
  type Amendment,
  type Conflict,
  fieldValue,
  type LogEntry,
  type Outcome,
  type Register,
  type Rejection,
  type Side,
  type Store,
  type SyncRecord,
  type TaskState,
} from "./state";
export { clientMay, EDITABLE, type TaskStatus } from "./status";
export { serverRecordId, uuid5 } from "./uuid";

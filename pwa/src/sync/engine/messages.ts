// The wire's mutation and push results (sync/_messages.py), and the strict reading of one
// mutation that msgspec does in Python: unknown fields, wrong types and out-of-range numbers
// make it undecodable (then it is stored as rejected, verbatim).

import { DecodeError } from "./errors";
import { type JsonNode, type JsonValue, nodeValue, parseJsonNode } from "./json";
import { codePointLength } from "./py";
import type { Outcome } from "./state";
import { parseUuidStrict } from "./uuid";

export const PROTOCOL_VERSION = 1;
/** The protocol versions the server accepts: this one and the previous one. */
export const SUPPORTED_PROTOCOLS: ReadonlySet<number> = new Set(
  [PROTOCOL_VERSION, PROTOCOL_VERSION - 1].filter((v) => v > 0),
);

export type Kind = "create" | "set" | "delete" | "transition" | "resolve_conflict";
const KINDS: ReadonlySet<string> = new Set<Kind>([
  "create",
  "set",
  "delete",
  "transition",
  "resolve_conflict",
]);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}(?=\n?$)/;

/** One local change. `seq` orders a device's mutations; `id` makes its effect happen once. */
export interface Mutation {
  readonly id: string;
  readonly client_id: string;
  readonly seq: number;
  readonly hlc: string;
  readonly kind: Kind;
  readonly entity: string;
  readonly entity_id: string;
  readonly task_id: string;
  /** create/set: field values; transition: {"to": status}; resolve_conflict: {"conflict_id", "note"}. */
  readonly payload: ReadonlyMap<string, JsonValue>;
  /** set: the version of each written field that the device had seen. */
  readonly base_versions: ReadonlyMap<string, number>;
  /** delete: the record's version the device had seen. */
  readonly base_version: number | null;
}

export interface MutationResult {
  mutation_id: string | null;
  seq: number | null;
  outcome: Outcome;
  reason_code: string | null;
  reason: string | null;
  /** clock_skew, late (applied after the task was reassigned away from the user). */
  flags: string[];
}

export interface PushOutcome {
  last_seq: number;
  /** Set when the push stopped at a gap: the seq the server expects next. */
  expected_seq: number | null;
  results: MutationResult[];
}

export function result(
  mutationId: string | null,
  seq: number | null,
  outcome: Outcome,
  reasonCode: string | null = null,
  reason: string | null = null,
): MutationResult {
  return { mutation_id: mutationId, seq, outcome, reason_code: reasonCode, reason, flags: [] };
}

function at(path: string): string {
  return ` - at \`${path}\``;
}

function expected(what: string, node: JsonNode, path: string): never {
  throw new DecodeError(`Expected \`${what}\`, got \`${node.type}\`${at(path)}`);
}

function str(node: JsonNode, path: string, maxLength?: number): string {
  if (node.type !== "str") {
    return expected("str", node, path);
  }
  if (maxLength !== undefined && codePointLength(node.value) > maxLength) {
    throw new DecodeError(`Expected \`str\` of length <= ${maxLength}${at(path)}`);
  }
  return node.value;
}

function int(node: JsonNode, path: string, min: number): number {
  if (node.type !== "int") {
    return expected("int", node, path);
  }
  if (node.value < min) {
    throw new DecodeError(`Expected \`int\` >= ${min}${at(path)}`);
  }
  if (node.value > MAX_SAFE) {
    throw new DecodeError(`Expected \`int\` <= ${MAX_SAFE}${at(path)}`);
  }
  return Number(node.value);
}

function uuid(node: JsonNode, path: string): string {
  if (node.type !== "str") {
    return expected("uuid", node, path);
  }
  const value = parseUuidStrict(node.value);
  if (value === null) {
    throw new DecodeError(`Invalid UUID${at(path)}`);
  }
  return value;
}

function object<T>(
  node: JsonNode,
  path: string,
  item: (n: JsonNode, p: string) => T,
): Map<string, T> {
  if (node.type !== "object") {
    return expected("object", node, path);
  }
  const out = new Map<string, T>();
  for (const [key, value] of node.entries) {
    out.set(key, item(value, `${path}[...]`));
  }
  return out;
}

type Field = (node: JsonNode, path: string) => unknown;

const FIELDS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ["id", uuid],
  [
    "client_id",
    (n, p) => {
      const value = str(n, p);
      if (!CLIENT_ID.test(value)) {
        throw new DecodeError(`Expected \`str\` matching regex '^[A-Za-z0-9_-]{1,64}$'${at(p)}`);
      }
      return value;
    },
  ],
  ["seq", (n, p) => int(n, p, 1)],
  ["hlc", (n, p) => str(n, p, 90)],
  [
    "kind",
    (n, p) => {
      const value = str(n, p);
      if (!KINDS.has(value)) {
        throw new DecodeError(`Invalid enum value '${value}'${at(p)}`);
      }
      return value;
    },
  ],
  ["entity", (n, p) => str(n, p, 32)],
  ["entity_id", uuid],
  ["task_id", uuid],
  ["payload", (n, p) => object(n, p, nodeValue)],
  ["base_versions", (n, p) => object(n, p, (v, q) => int(v, q, 0))],
  ["base_version", (n, p) => (n.type === "null" ? null : int(n, p, 0))],
]);
const REQUIRED = ["id", "client_id", "seq", "hlc", "kind", "entity", "entity_id", "task_id"];

/** Reads one mutation strictly (msgspec's `decode(raw, type=Mutation)`); throws DecodeError. */
export function decodeMutation(raw: string): Mutation {
  const root = parseJsonNode(raw);
  if (root.type !== "object") {
    return expected("object", root, "$");
  }
  const read = new Map<string, unknown>();
  for (const [key, node] of root.entries) {
    const field = FIELDS.get(key);
    if (field === undefined) {
      throw new DecodeError(`Object contains unknown field \`${key}\``);
    }
    read.set(key, field(node, `$.${key}`));
  }
  const missing = REQUIRED.find((name) => !read.has(name));
  if (missing !== undefined) {
    throw new DecodeError(`Object missing required field \`${missing}\``);
  }
  // every value was checked by its field's reader above
  return {
    id: read.get("id") as string,
    client_id: read.get("client_id") as string,
    seq: read.get("seq") as number,
    hlc: read.get("hlc") as string,
    kind: read.get("kind") as Kind,
    entity: read.get("entity") as string,
    entity_id: read.get("entity_id") as string,
    task_id: read.get("task_id") as string,
    payload: (read.get("payload") as Map<string, JsonValue> | undefined) ?? new Map(),
    base_versions: (read.get("base_versions") as Map<string, number> | undefined) ?? new Map(),
    base_version: (read.get("base_version") as number | null | undefined) ?? null,
  };
}

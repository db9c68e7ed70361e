// The synced entities, their fields and how each field merges (sync/_entities.py).
//
// * server-made entities exist from the moment the task is issued (one check_item per
//   checklist point, one result per task); phones only `set` their fields.
// * the others are records with client-made ids: `create` (idempotent), then `set` on their
//   fields, and `delete` (a tombstone) where deletable.
// * immutable records (photos, signatures, check-ins) never change once created; they can
//   only be deleted where allowed.
// Every field is a last-writer-wins register.

import {
  accuracy,
  type Check,
  CODE,
  COORD,
  codes,
  DIGEST,
  day,
  ids,
  instant,
  oneOf,
  optionalBool,
  pattern,
  refusal,
  text,
  UUID,
} from "./checks";
import { InvalidMutation } from "./errors";
import type { JsonValue } from "./json";
import { pyStr, sliceCodePoints, sortedListRepr, strRepr } from "./py";

export interface EntitySpec {
  readonly name: string;
  readonly fields: ReadonlyMap<string, Check>;
  readonly required: ReadonlySet<string>;
  readonly serverMade: boolean;
  readonly immutable: boolean;
  readonly deletable: boolean;
}

interface Options {
  required?: readonly string[];
  serverMade?: boolean;
  immutable?: boolean;
  deletable?: boolean;
}

function spec(
  name: string,
  fields: Readonly<Record<string, Check>>,
  options: Options = {},
): EntitySpec {
  return {
    name,
    fields: new Map(Object.entries(fields)),
    required: new Set(options.required ?? []),
    serverMade: options.serverMade ?? false,
    immutable: options.immutable ?? false,
    deletable: options.deletable ?? true,
  };
}

/** Throws InvalidMutation("invalid") unless `values` are fields of `entity` with allowed values. */
export function validate(
  entity: EntitySpec,
  values: ReadonlyMap<string, JsonValue>,
  creating: boolean,
): void {
  const unknown = [...values.keys()].filter((name) => !entity.fields.has(name));
  if (unknown.length > 0) {
    throw new InvalidMutation(
      "invalid",
      `${entity.name} has no field(s) ${sortedListRepr(unknown)}`,
    );
  }
  for (const [name, value] of values) {
    const check = entity.fields.get(name);
    if (check !== undefined && !check(value)) {
      const shown = strRepr(sliceCodePoints(pyStr(value), 80));
      throw new InvalidMutation("invalid", `${entity.name}.${name}: value not allowed: ${shown}`);
    }
  }
  if (creating && entity.required.size > 0) {
    const given = new Set([...values].filter(([, v]) => v !== null).map(([k]) => k));
    const missing = [...entity.required].filter((name) => !given.has(name));
    if (missing.length > 0) {
      throw new InvalidMutation("invalid", `${entity.name} needs ${sortedListRepr(missing)}`);
    }
  }
}

const ENTITY_LIST: readonly EntitySpec[] = [
  spec(
    "check_item",
    { conforms: optionalBool, problem_text: text(2000) },
    { serverMade: true, deletable: false },
  ),
  spec(
    "result",
    {
      categories: codes(),
      sub_reasons: codes(),
      verification_methods: codes(),
      requested_documents: codes(),
      business_remarks: text(2000),
      checked_at: instant(),
      entered_at: instant(),
    },
    { serverMade: true, deletable: false },
  ),
  spec(
    "finding",
    { check_item_id: pattern(UUID), text: text(2000, false), photo_ids: ids() },
    { required: ["text"] },
  ),
  spec(
    "photo",
    {
      original_digest: pattern(DIGEST),
      evidence_digest: pattern(DIGEST, false),
      taken_at: instant(),
      latitude: pattern(COORD),
      longitude: pattern(COORD),
      check_item_id: pattern(UUID),
    },
    { required: ["evidence_digest"], immutable: true },
  ),
  spec(
    "signature",
    {
      signer: oneOf(["inspector", "business"], false),
      signer_user_id: pattern(UUID),
      signer_name: text(64),
      image_digest: pattern(DIGEST),
      refused: refusal,
      content_hash: pattern(DIGEST, false),
      signed_at: instant(),
    },
    { required: ["signer", "content_hash"], immutable: true },
  ),
  spec(
    "measure",
    {
      code: pattern(CODE, false),
      text: text(2000),
      state: oneOf(["未完结", "已完结"]),
      closing_note: text(2000),
      closed_on: day(),
    },
    { required: ["code"] },
  ),
  spec(
    "referral",
    {
      kind: oneOf(["抄告", "移送"], false),
      target: text(200, false),
      findings: text(2000, false),
      measure_id: pattern(UUID),
    },
    { required: ["kind", "target", "findings"] },
  ),
  spec(
    "check_in",
    {
      at: instant(false),
      latitude: pattern(COORD),
      longitude: pattern(COORD),
      accuracy_m: accuracy,
      no_gps_reason: text(500),
      inspector_id: pattern(UUID),
    },
    { required: ["at"], immutable: true, deletable: false },
  ),
];

/** The synced entities by name. */
export const ENTITIES: ReadonlyMap<string, EntitySpec> = new Map(
  ENTITY_LIST.map((e) => [e.name, e]),
);

// What can be read of a pushed mutation without decoding it strictly (sync/_engine.py:
// place, peek): its id and seq, so that one that does not decode keeps its place.

import { DecodeError } from "./errors";
import {
  getOwn,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  nodeValue,
  parseJson,
  parseJsonNode,
} from "./json";
import { pyStr, sliceCodePoints } from "./py";
import { isCanonicalUuid, parseUuidLenient } from "./uuid";

/** A mutation's top-level id and seq as they stand in its JSON, read without the rest. */
export interface Place {
  readonly id: JsonValue;
  readonly seq: JsonValue;
  /** The id as `peek` reads it (canonical when it is a UUID). */
  readonly mutationId: string | null;
  /** The seq as `peek` reads it: its place in the device's order, if it has one. */
  readonly position: number | null;
}

/** What can be read of a pushed mutation without decoding it strictly. */
export interface Peek {
  /** The id the engine de-duplicates it by (canonical when it is a UUID). */
  readonly mutationId: string | null;
  /** Its place in the device's order, when one can be read. */
  readonly seq: number | null;
  /** Whatever fields could be read. */
  readonly fields: JsonObject;
}

// Python reads these on the UTF-8 bytes: \s is ASCII whitespace and {1,64} counts bytes
const LOOSE_ID = /"id"[ \t\n\r\f\v]*:[ \t\n\r\f\v]*"([^"\\]{1,64})"/;
const LOOSE_SEQ = /"seq"[ \t\n\r\f\v]*:[ \t\n\r\f\v]*([0-9]{1,15})\b/;

/** Text safe to store anywhere (PostgreSQL refuses NUL). */
export function clean(text: string): string {
  return text.replaceAll("\0", "\\u0000");
}

/** A mutation id read from something that did not decode: canonical when it is a UUID. */
export function looseId(value: JsonValue | undefined): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (typeof value === "string" && isCanonicalUuid(value)) {
    return value;
  }
  const text = pyStr(value);
  return parseUuidLenient(text) ?? sliceCodePoints(clean(text), 64);
}

/** A seq that can be a place in the order: an int (not a bool) from 1. */
export function positionOf(value: JsonValue | undefined): number | null {
  if ((typeof value === "number" && Number.isInteger(value)) || typeof value === "bigint") {
    return value >= 1 ? Number(value) : null;
  }
  return null;
}

function binary(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

function fromBinary(text: string): string {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8").decode(bytes);
}

/** What can be read of a mutation that does not decode: its id and seq, so its place is kept. */
export function lenient(raw: string): JsonObject {
  let value: JsonValue;
  try {
    value = parseJson(raw);
  } catch (error) {
    if (!(error instanceof DecodeError)) {
      throw error;
    }
    const found: JsonObject = {};
    const bytes = binary(raw);
    const id = LOOSE_ID.exec(bytes);
    if (id?.[1] !== undefined) {
      found.id = fromBinary(id[1]);
    }
    const seq = LOOSE_SEQ.exec(bytes);
    if (seq?.[1] !== undefined) {
      found.seq = Number(seq[1]);
    }
    return found;
  }
  if (typeof value === "string") {
    return lenient(value); // a mutation encoded twice: read what the inner text holds
  }
  return isJsonObject(value) ? value : {};
}

/** A mutation's top-level id and seq, without reading the rest; null when it is not a JSON object. */
export function place(raw: string): Place | null {
  let id: JsonValue = null;
  let seq: JsonValue = null;
  try {
    const root = parseJsonNode(raw);
    if (root.type !== "object") {
      return null;
    }
    for (const [key, node] of root.entries) {
      if (key === "id") {
        id = nodeValue(node, "$.id");
      } else if (key === "seq") {
        seq = nodeValue(node, "$.seq");
      }
    }
  } catch (error) {
    if (error instanceof DecodeError) {
      return null;
    }
    throw error;
  }
  return { id, seq, mutationId: looseId(id), position: positionOf(seq) };
}

/** Reads a pushed mutation as leniently as the engine does when it does not decode. */
export function peek(raw: string, placed: Place | null = null): Peek {
  const loose = lenient(raw);
  const known = placed ?? place(raw);
  if (known !== null) {
    return { mutationId: known.mutationId, seq: known.position, fields: loose };
  }
  return {
    mutationId: looseId(getOwn(loose, "id")),
    seq: positionOf(getOwn(loose, "seq")),
    fields: loose,
  };
}

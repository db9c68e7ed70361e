// Canonical content: RFC 8785 (JCS) JSON with no floats, and its sha256 (sync/_canonical.py).
// One definition for everything that is hashed — what a signature covers, the record's QR
// hash and the audit chain — so that the phone and the server always agree.

import { CanonicalFormError } from "./errors";
import { isJsonObject, JsonFloat, type JsonValue } from "./json";
import { hasLoneSurrogate } from "./py";
import { sha256Hex } from "./sha256";

function checkText(value: string, path: string): void {
  if (hasLoneSurrogate(value)) {
    throw new CanonicalFormError(`${path}: text that is not valid Unicode`);
  }
}

function checkNumber(value: number | bigint, path: string): void {
  if (typeof value === "number" && !Number.isInteger(value)) {
    throw new CanonicalFormError(
      `${path}: floats are not allowed in canonical content; use a string`,
    );
  }
  const big = typeof value === "bigint" ? value : BigInt(value);
  if (big > 2n ** 53n - 1n || big < -(2n ** 53n - 1n)) {
    throw new CanonicalFormError(`${path}: integer outside the interoperable range`);
  }
}

function check(value: JsonValue, path: string): void {
  if (typeof value === "string") {
    checkText(value, path);
  } else if (typeof value === "number" || typeof value === "bigint") {
    checkNumber(value, path);
  } else if (value instanceof JsonFloat) {
    throw new CanonicalFormError(
      `${path}: floats are not allowed in canonical content; use a string`,
    );
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      check(item, `${path}[${index}]`);
    });
  } else if (isJsonObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      checkText(key, path);
      check(item, `${path}.${key}`);
    }
  }
}

/** Throws CanonicalFormError unless `value` has a canonical form (JSON types, no floats). */
export function checkCanonical(value: JsonValue): void {
  check(value, "$");
}

function write(value: JsonValue): string {
  if (Array.isArray(value)) {
    return `[${value.map(write).join(",")}]`;
  }
  if (isJsonObject(value)) {
    // RFC 8785 orders keys by their UTF-16 code units: JavaScript's own string order
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${write(value[k] ?? null)}`).join(",")}}`;
  }
  // strings are escaped as ECMAScript's JSON.stringify does, which is what RFC 8785 prescribes
  return typeof value === "bigint" ? value.toString() : JSON.stringify(value);
}

/** The RFC 8785 canonical JSON text of `value` (JSON types only, no floats). */
export function canonicalJson(value: JsonValue): string {
  checkCanonical(value);
  return write(value);
}

/** The canonical UTF-8 bytes of `value`. */
export function canonicalBytes(value: JsonValue): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/** The lowercase hex sha256 of the canonical form of `value`. */
export function canonicalDigest(value: JsonValue): string {
  return sha256Hex(canonicalBytes(value));
}

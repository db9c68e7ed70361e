// UUIDs as the Python side reads and makes them: msgspec's strict reading of a mutation's
// ids, uuid.UUID's lenient one (ids of mutations that do not decode, conflict ids), uuid5.

import { digitValue } from "./py";
import { sha1 } from "./sha1";
import { toHex } from "./sha256";

export const NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";
const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HYPHENATED = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const HEX32 = /^[0-9a-fA-F]{32}$/;

export function isCanonicalUuid(text: string): boolean {
  return CANONICAL.test(text);
}

function format(hex32: string): string {
  const h = hex32.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** msgspec's UUID: 36 characters with hyphens, or 32 hex digits, in either case; else null. */
export function parseUuidStrict(text: string): string | null {
  if (HYPHENATED.test(text)) {
    return text.toLowerCase();
  }
  return HEX32.test(text) ? format(text) : null;
}

const PY_SPACE = /^[ \t\n\v\f\r\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const HEX_DIGITS = /^[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*$/;

/** int(text, 16) in Python (signs, 0x, underscores, Unicode digits and spaces), or null. */
export function pythonHexInt(text: string): bigint | null {
  let ascii = "";
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x80) {
      ascii += char;
    } else if (PY_SPACE.test(char)) {
      ascii += " ";
    } else {
      const digit = digitValue(char);
      ascii += digit >= 0 ? String(digit) : "?";
    }
  }
  let body = ascii.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, "");
  const negative = body.startsWith("-");
  if (negative || body.startsWith("+")) {
    body = body.slice(1);
  }
  if (/^0[xX]/.test(body)) {
    body = body.slice(2).replace(/^_/, "");
  }
  if (!HEX_DIGITS.test(body)) {
    return null;
  }
  const value = BigInt(`0x${body.replaceAll("_", "")}`);
  return negative ? -value : value;
}

function stripBraces(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === "{" || text[start] === "}")) {
    start++;
  }
  while (end > start && (text[end - 1] === "{" || text[end - 1] === "}")) {
    end--;
  }
  return text.slice(start, end);
}

/** str(uuid.UUID(text)) in Python (braces, "urn:uuid:", hyphens anywhere), or null. */
export function parseUuidLenient(text: string): string | null {
  const hex = stripBraces(text.replaceAll("urn:", "").replaceAll("uuid:", "")).replaceAll("-", "");
  if ([...hex].length !== 32) {
    return null;
  }
  const value = pythonHexInt(hex);
  if (value === null || value < 0n || value >= 1n << 128n) {
    return null;
  }
  return format(value.toString(16).padStart(32, "0"));
}

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}

/** uuid.uuid5(namespace, name) in Python. */
export function uuid5(namespace: string, name: string): string {
  const nameBytes = new TextEncoder().encode(name);
  const data = new Uint8Array(16 + nameBytes.length);
  data.set(uuidBytes(namespace));
  data.set(nameBytes, 16);
  const hash = sha1(data).slice(0, 16);
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  return format(toHex(hash));
}

/** uuid5(NAMESPACE_URL, "urn:zsjg:sync"): the namespace of every id the server makes. */
export const SYNC_NAMESPACE = uuid5(NAMESPACE_URL, "urn:zsjg:sync");

/** The id of a record the server makes for a task (a check_item per checklist point, the result). */
export function serverRecordId(taskId: string, entity: string, key = ""): string {
  return uuid5(SYNC_NAMESPACE, `${taskId}/${entity}/${key}`);
}

// Python's semantics where the engine depends on them: == between JSON values, str() and
// repr(), len() and slices in code points, string order by code point, Unicode digits.

import { isJsonObject, JsonFloat, type JsonValue } from "./json";

const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Whether `text` has a lone surrogate (a string Python could not encode). */
export function hasLoneSurrogate(text: string): boolean {
  LONE_SURROGATES.lastIndex = 0;
  return LONE_SURROGATES.test(text);
}

/** The text as it arrives over HTTP: a lone surrogate becomes U+FFFD, as UTF-8 encoding makes it. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATES, "\ufffd");
}

/** len(text) in Python: code points, not UTF-16 units. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) {
    length++;
  }
  return length;
}

/** text[:count] in Python. */
export function sliceCodePoints(text: string, count: number): string {
  let out = "";
  let taken = 0;
  for (const char of text) {
    if (taken++ >= count) {
      break;
    }
    out += char;
  }
  return out;
}

/** Python's string order (by code point; JavaScript's < compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) {
      return x.done && y.done ? 0 : x.done ? -1 : 1;
    }
    const dx = x.value.codePointAt(0) ?? 0;
    const dy = y.value.codePointAt(0) ?? 0;
    if (dx !== dy) {
      return dx < dy ? -1 : 1;
    }
  }
}

/** Compares tuples of strings as Python compares tuples. */
export function compareTuples(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareCodePoints(a[i] ?? "", b[i] ?? "");
    if (order !== 0) {
      return order;
    }
  }
  return a.length - b.length;
}

const ND = /^\p{Nd}$/u;

/** The value of a Unicode decimal digit (category Nd), or -1: Nd digits come in runs of ten from 0. */
export function digitValue(char: string): number {
  if (!ND.test(char)) {
    return -1;
  }
  let code = char.codePointAt(0) ?? 0;
  const start = code;
  while (ND.test(String.fromCodePoint(code - 1))) {
    code--;
  }
  return (start - code) % 10;
}

/** int(text) for a string of Unicode decimal digits. */
export function decimalValue(text: string): number {
  let value = 0;
  for (const char of text) {
    value = value * 10 + digitValue(char);
  }
  return value;
}

type Numeric = number | bigint;

function numeric(value: JsonValue): Numeric | null {
  if (typeof value === "boolean") {
    return value ? 1 : 0;
  }
  if (typeof value === "number" || typeof value === "bigint") {
    return value;
  }
  return value instanceof JsonFloat ? value.value : null;
}

function numericEquals(a: Numeric, b: Numeric): boolean {
  if (typeof a === typeof b) {
    return a === b || (a === 0 && b === 0);
  }
  const [big, num] = typeof a === "bigint" ? [a, b as number] : [b as bigint, a as number];
  return Number.isInteger(num) && BigInt(num) === big;
}

/** `a == b` in Python, for decoded JSON values (True == 1 == 1.0; lists and dicts deeply). */
export function pyEquals(a: JsonValue, b: JsonValue): boolean {
  const x = numeric(a);
  const y = numeric(b);
  if (x !== null || y !== null) {
    return x !== null && y !== null && numericEquals(x, y);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => pyEquals(item, b[i] ?? null))
    );
  }
  if (isJsonObject(a) || isJsonObject(b)) {
    if (!(isJsonObject(a) && isJsonObject(b))) {
      return false;
    }
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && pyEquals(a[k] ?? null, b[k] ?? null))
    );
  }
  return a === b;
}

/** repr(float) in Python: the shortest digits, fixed notation for exponents from -4 to 15. */
export function floatRepr(value: number): string {
  if (value === 0) {
    return Object.is(value, -0) ? "-0.0" : "0.0";
  }
  const sign = value < 0 ? "-" : "";
  const [mantissa = "", exp = "0"] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exp);
  const point = exponent + 1;
  if (point > -4 && point <= 16) {
    if (point <= 0) {
      return `${sign}0.${"0".repeat(-point)}${digits}`;
    }
    if (point >= digits.length) {
      return `${sign}${digits}${"0".repeat(point - digits.length)}.0`;
    }
    return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  const rest = digits.length > 1 ? `.${digits.slice(1)}` : "";
  const shown = String(Math.abs(exponent)).padStart(2, "0");
  return `${sign}${digits[0]}${rest}e${exponent < 0 ? "-" : "+"}${shown}`;
}

const UNPRINTABLE = /^[\p{C}\p{Z}]$/u;

function escapeChar(char: string, quote: string): string {
  const named: Readonly<Record<string, string>> = {
    "\\": "\\\\",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
  };
  const known = named[char];
  if (known !== undefined) {
    return known;
  }
  if (char === quote) {
    return `\\${quote}`;
  }
  const code = char.codePointAt(0) ?? 0;
  if (char === " " || !(code < 0x20 || code === 0x7f || (code > 0x7f && UNPRINTABLE.test(char)))) {
    return char;
  }
  if (code <= 0xff) {
    return `\\x${code.toString(16).padStart(2, "0")}`;
  }
  return code <= 0xffff
    ? `\\u${code.toString(16).padStart(4, "0")}`
    : `\\U${code.toString(16).padStart(8, "0")}`;
}

/** repr(text) in Python. */
export function strRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    out += escapeChar(char, quote);
  }
  return out + quote;
}

/** repr(value) in Python, for a decoded JSON value. */
export function pyRepr(value: JsonValue): string {
  return typeof value === "string" ? strRepr(value) : pyStr(value);
}

/** str(value) in Python, for a decoded JSON value. */
export function pyStr(value: JsonValue): string {
  if (value === null) {
    return "None";
  }
  if (typeof value === "boolean") {
    return value ? "True" : "False";
  }
  if (typeof value === "string") {
    return value;
  }
  if (typeof value === "number" || typeof value === "bigint") {
    return Number.isInteger(value) || typeof value === "bigint" ? String(value) : floatRepr(value);
  }
  if (value instanceof JsonFloat) {
    return floatRepr(value.value);
  }
  if (Array.isArray(value)) {
    return `[${value.map(pyRepr).join(", ")}]`;
  }
  const items = Object.entries(value).map(([k, v]) => `${strRepr(k)}: ${pyRepr(v)}`);
  return `{${items.join(", ")}}`;
}

/** repr() of a sorted list of strings, as in `f"… {sorted(names)}"`. */
export function sortedListRepr(names: Iterable<string>): string {
  return pyStr([...names].sort(compareCodePoints));
}

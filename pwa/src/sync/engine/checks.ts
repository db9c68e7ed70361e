// Field checks (sync/_entities.py): ASCII digits, nothing after the value (no final newline);
// times and dates keep what datetime.fromisoformat (Python 3.11) accepts.

import { isJsonObject, type JsonValue } from "./json";
import { codePointLength } from "./py";

export type Check = (value: JsonValue) => boolean;

export const DIGEST = /^[0-9a-f]{64}$/;
export const CODE = /^[A-Za-z0-9_.-]{1,32}$/;
export const COORD = /^-?[0-9]{1,3}\.[0-9]{6}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Instants outside these years are typing errors, not inspections. */
const EARLIEST = 1900;
const LATEST = 2999;
const DAY_S = 86_400;

export function text(maxLength: number, optional = true): Check {
  return (v) => {
    if (v === null) {
      return optional;
    }
    return (
      typeof v === "string" && v.length > 0 && codePointLength(v) <= maxLength && !v.includes("\0")
    );
  };
}

export function pattern(regex: RegExp, optional = true): Check {
  return (v) => (v === null ? optional : typeof v === "string" && regex.test(v));
}

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

function realDate(year: number, month: number, day: number): boolean {
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
}

/** The year of an instant in UTC, or null when it names no moment. */
export function utcYear(value: string): number | null {
  const m = INSTANT.exec(value);
  if (m === null) {
    return null;
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (!realDate(year, month, day) || hour > 23 || minute > 59 || second > 59) {
    return null;
  }
  const sign = m[7] === "-" ? -1 : 1;
  const offset = sign * (Number(m[8] ?? 0) * 3600 + Number(m[9] ?? 0) * 60);
  if (Math.abs(offset) >= DAY_S) {
    return null;
  }
  const utc = hour * 3600 + minute * 60 + second - offset;
  if (utc < 0 && month === 1 && day === 1) {
    return year - 1;
  }
  return utc >= DAY_S && month === 12 && day === 31 ? year + 1 : year;
}

/** An RFC 3339 time with its offset that names a real moment the server can store in UTC. */
export function instant(optional = true): Check {
  return (v) => {
    if (v === null) {
      return optional;
    }
    const year = typeof v === "string" ? utcYear(v) : null;
    return year !== null && year >= EARLIEST && year <= LATEST;
  };
}

/** A calendar date (YYYY-MM-DD) that exists. */
export function day(optional = true): Check {
  return (v) => {
    if (v === null) {
      return optional;
    }
    const m = typeof v === "string" ? DATE.exec(v) : null;
    return m !== null && realDate(Number(m[1]), Number(m[2]), Number(m[3]));
  };
}

export function oneOf(values: readonly string[], optional = true): Check {
  return (v) => (v === null && optional) || (typeof v === "string" && values.includes(v));
}

export function codes(maxItems = 20): Check {
  return (v) =>
    Array.isArray(v) &&
    v.length <= maxItems &&
    v.every((c) => typeof c === "string" && CODE.test(c)) &&
    new Set(v).size === v.length;
}

export function ids(maxItems = 50): Check {
  return (v) =>
    Array.isArray(v) &&
    v.length <= maxItems &&
    v.every((i) => typeof i === "string" && UUID.test(i));
}

export const optionalBool: Check = (v) => v === null || typeof v === "boolean";

const reasonText = text(500, false);
const witnessText = text(64);

export const refusal: Check = (v) => {
  if (v === null) {
    return true;
  }
  if (!isJsonObject(v)) {
    return false;
  }
  const keys = Object.keys(v);
  return (
    keys.length === 2 &&
    Object.hasOwn(v, "reason") &&
    Object.hasOwn(v, "witness") &&
    reasonText(v.reason ?? null) &&
    witnessText(v.witness ?? null)
  );
};

/** None, or an int (not a bool) from 0 to 100 000. */
export const accuracy: Check = (v) => {
  if (v === null) {
    return true;
  }
  const isInt = (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
  return isInt && v >= 0 && v <= 100_000;
};

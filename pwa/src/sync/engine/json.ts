// A strict JSON reader that reads what msgspec reads (RFC 8259: no trailing commas, no lone
// surrogate escapes, no leading zeros) and keeps what JSON.parse loses: whether a number was
// written as an integer or a float, integers beyond 2^53 exactly, and duplicate keys in
// order (msgspec checks each occurrence; the last one wins).

import { DecodeError } from "./errors";

/** A number written with a fraction or an exponent (a Python float). */
export class JsonFloat {
  constructor(readonly value: number) {}
}

/** A decoded JSON value: integers are numbers (bigints beyond ±(2^53 − 1)), floats JsonFloat. */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonFloat
  | JsonValue[]
  | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type JsonNode =
  | { readonly type: "null" }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "int"; readonly value: number | bigint }
  | { readonly type: "float"; readonly text: string }
  | { readonly type: "str"; readonly value: string }
  | { readonly type: "array"; readonly items: readonly JsonNode[] }
  | { readonly type: "object"; readonly entries: readonly (readonly [string, JsonNode])[] };

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

class Reader {
  private pos = 0;

  constructor(private readonly text: string) {}

  document(): JsonNode {
    const node = this.value(0);
    this.skipSpace();
    if (this.pos < this.text.length) {
      this.fail("trailing characters");
    }
    return node;
  }

  private fail(what: string): never {
    if (this.pos >= this.text.length) {
      throw new DecodeError("Input data was truncated");
    }
    throw new DecodeError(`JSON is malformed: ${what} (character ${this.pos})`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c !== " " && c !== "\t" && c !== "\n" && c !== "\r") {
        return;
      }
      this.pos++;
    }
  }

  private literal(word: string, node: JsonNode): JsonNode {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return node;
    }
    if (word.startsWith(this.text.slice(this.pos))) {
      this.pos = this.text.length;
    }
    return this.fail("invalid character");
  }

  private value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) {
      throw new DecodeError("Maximum recursion depth exceeded");
    }
    this.skipSpace();
    const c = this.text[this.pos];
    switch (c) {
      case "{":
        return this.object(depth);
      case "[":
        return this.array(depth);
      case '"':
        return { type: "str", value: this.string() };
      case "t":
        return this.literal("true", { type: "bool", value: true });
      case "f":
        return this.literal("false", { type: "bool", value: false });
      case "n":
        return this.literal("null", { type: "null" });
      default:
        if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
          return this.number();
        }
        return this.fail("invalid character");
    }
  }

  private number(): JsonNode {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    const next = this.text[NUMBER.lastIndex];
    if (match === null || (next !== undefined && /[0-9.eE+-]/.test(next))) {
      this.pos = match === null ? this.pos + 1 : NUMBER.lastIndex;
      return this.fail("invalid number");
    }
    this.pos = NUMBER.lastIndex;
    const text = match[0];
    if (match[1] !== undefined || match[2] !== undefined) {
      return { type: "float", text };
    }
    const value = Number(text);
    return { type: "int", value: Number.isSafeInteger(value) ? value + 0 : BigInt(text) };
  }

  private hex4(): number {
    const digits = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
      this.pos = Math.min(this.pos + 4, this.text.length);
      return this.fail("invalid escape character in string");
    }
    this.pos += 4;
    return Number.parseInt(digits, 16);
  }

  private escape(): string {
    const c = this.text[this.pos++];
    if (c === undefined) {
      return this.fail("truncated");
    }
    const simple = ESCAPES[c];
    if (simple !== undefined) {
      return simple;
    }
    if (c !== "u") {
      return this.fail("invalid escape character in string");
    }
    const unit = this.hex4();
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      return this.fail("invalid utf-16 surrogate pair");
    }
    if (unit < 0xd800 || unit > 0xdbff) {
      return String.fromCharCode(unit);
    }
    if (this.text.slice(this.pos, this.pos + 2) !== "\\u") {
      this.pos = Math.min(this.pos + 2, this.text.length);
      return this.fail("invalid utf-16 surrogate pair");
    }
    this.pos += 2;
    const low = this.hex4();
    if (low < 0xdc00 || low > 0xdfff) {
      return this.fail("invalid utf-16 surrogate pair");
    }
    return String.fromCharCode(unit, low);
  }

  private string(): string {
    this.pos++;
    let out = "";
    let start = this.pos;
    for (;;) {
      const code = this.text.charCodeAt(this.pos);
      if (code === 0x22 || code === 0x5c || code < 0x20 || Number.isNaN(code)) {
        out += this.text.slice(start, this.pos);
      }
      if (code === 0x22) {
        this.pos++;
        return out;
      }
      if (code === 0x5c) {
        this.pos++;
        out += this.escape();
        start = this.pos;
      } else if (code < 0x20 || Number.isNaN(code)) {
        this.fail("invalid character");
      } else {
        this.pos++;
      }
    }
  }

  private array(depth: number): JsonNode {
    this.pos++;
    const items: JsonNode[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return { type: "array", items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === "]") {
        return { type: "array", items };
      }
      if (c !== ",") {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
      this.skipSpace();
      if (this.text[this.pos] === "]") {
        this.fail("trailing comma in array");
      }
    }
  }

  private object(depth: number): JsonNode {
    this.pos++;
    const entries: (readonly [string, JsonNode])[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return { type: "object", entries };
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') {
        this.fail(entries.length > 0 ? "trailing comma in object" : "object keys must be strings");
      }
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos++] !== ":") {
        this.pos--;
        this.fail("expected ':'");
      }
      entries.push([key, this.value(depth + 1)]);
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === "}") {
        return { type: "object", entries };
      }
      if (c !== ",") {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
    }
  }
}

/** The syntax tree of one JSON document; throws DecodeError when it is not JSON. */
export function parseJsonNode(text: string): JsonNode {
  return new Reader(text).document();
}

/** Sets an own property, whatever its name (`__proto__` too). */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

/** The own property `key` of `target`, or undefined (never one inherited from Object.prototype). */
export function getOwn<T>(target: { readonly [key: string]: T }, key: string): T | undefined {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

/** A node as a value (msgspec's `Any`): a float beyond the double range is an error. */
export function nodeValue(node: JsonNode, path = "$"): JsonValue {
  switch (node.type) {
    case "null":
      return null;
    case "bool":
    case "int":
    case "str":
      return node.value;
    case "float": {
      const value = Number(node.text);
      if (!Number.isFinite(value)) {
        throw new DecodeError(`Number out of range - at \`${path}\``);
      }
      return new JsonFloat(value);
    }
    case "array":
      return node.items.map((item, index) => nodeValue(item, `${path}[${index}]`));
    case "object": {
      const out: JsonObject = {};
      for (const [key, item] of node.entries) {
        setOwn(out, key, nodeValue(item, `${path}[...]`));
      }
      return out;
    }
  }
}

/** Decodes a JSON document as msgspec.json.decode does; throws DecodeError. */
export function parseJson(text: string): JsonValue {
  return nodeValue(parseJsonNode(text));
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof JsonFloat)
  );
}

function floatText(value: number): string {
  const text = String(value);
  return /[.eE]|Infinity|NaN/.test(text) ? text : `${text}.0`;
}

/** Compact JSON text of a value; a JsonFloat stays a float (`1.0`, not `1`). */
export function encodeJson(value: JsonValue): string {
  if (value instanceof JsonFloat) {
    return floatText(value.value);
  }
  if (typeof value === "bigint") {
    return value.toString();
  }
  if (Array.isArray(value)) {
    return `[${value.map(encodeJson).join(",")}]`;
  }
  if (isJsonObject(value)) {
    const items = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${encodeJson(v)}`);
    return `{${items.join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A deep copy of a value (JsonFloat stays a JsonFloat). */
export function cloneValue(value: JsonValue): JsonValue {
  if (Array.isArray(value)) {
    return value.map(cloneValue);
  }
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      setOwn(out, key, cloneValue(item));
    }
    return out;
  }
  return value;
}

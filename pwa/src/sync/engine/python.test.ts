// Where the engine copies Python's own behaviour, against answers computed by Python 3.11
// (uuid.UUID, repr(float), sync._entities' checks, sync._engine.peek, msgspec's decoding).
import { describe, expect, test } from "vitest";
import { COORD, day, instant, pattern } from "./checks";
import { DecodeError } from "./errors";
import { parseJson } from "./json";
import { decodeMutation } from "./messages";
import { peek } from "./place";
import { floatRepr, pyStr } from "./py";
import { parseUuidLenient } from "./uuid";

describe("uuid.UUID(text)", () => {
  test.each<[string, string | null]>([
    ["+8920b26867d159a89d775b506e9dba6", "08920b26-867d-159a-89d7-75b506e9dba6"],
    ["0x8920b26867d159a89d775b506e9dba", "008920b2-6867-d159-a89d-775b506e9dba"],
    ["8920_b26867d159a89d775b506e9dba6", "08920b26-867d-159a-89d7-75b506e9dba6"],
    [" 920b26867d159a89d775b506e9dba6f", "0920b268-67d1-59a8-9d77-5b506e9dba6f"],
    ["\u001c920b26867d159a89d775b506e9dba6f", null],
    ["\ufeff920b26867d159a89d775b506e9dba6f", null],
    ["urn:uuid:8920B268-67d1-59a8-9d77-5b506e9dba6f", "8920b268-67d1-59a8-9d77-5b506e9dba6f"],
    ["{{8920b268-67d1-59a8-9d77-5b506e9dba6f}", "8920b268-67d1-59a8-9d77-5b506e9dba6f"],
    ["8920b268-67d1-59a8-9d77-5b506e9dba\uff16f", "8920b268-67d1-59a8-9d77-5b506e9dba6f"],
    ["0x_920b26867d159a89d775b506e9dba", "000920b2-6867-d159-a89d-775b506e9dba"],
    ["\u3000920b26867d159a89d775b506e9dba6f", "0920b268-67d1-59a8-9d77-5b506e9dba6f"],
    ["8920b268-67d1-59a8-9d77-5b506e9dba6", null],
    ["\u0668920b26867d159a89d775b506e9dba6f", "8920b268-67d1-59a8-9d77-5b506e9dba6f"],
    ["__20b26867d159a89d775b506e9dba6f", null],
  ])("%j", (text, expected) => {
    expect(parseUuidLenient(text)).toBe(expected);
  });
});

test("repr(float)", () => {
  const values = [
    1.0, 0.1, 1e16, 1e15, 123456789.125, 1e-5, 0.0001, 1.5e300, -0.0, -2.5e-7, 1e22, 5e-324, 100.0,
  ];
  expect(values.map(floatRepr)).toEqual([
    "1.0",
    "0.1",
    "1e+16",
    "1000000000000000.0",
    "123456789.125",
    "1e-05",
    "0.0001",
    "1.5e+300",
    "-0.0",
    "-2.5e-07",
    "1e+22",
    "5e-324",
    "100.0",
  ]);
  expect(pyStr(parseJson('{"a":[1,true,null,1.5,"it\'s"]}'))).toBe(
    `{'a': [1, True, None, 1.5, "it's"]}`,
  );
});

describe("field checks", () => {
  test.each<[string, boolean]>([
    ["2026-02-30T10:00:00Z", false],
    ["2026-01-01T24:00:00Z", false],
    ["2026-01-01T10:00:00+24:00", false],
    ["2026-01-01T10:00:00+23:59", true],
    ["2026-01-01T10:00:00+00:60", true],
    ["1900-01-01T00:30:00+01:00", false],
    ["1900-01-01T00:30:00-01:00", true],
    ["2999-12-31T23:30:00-01:00", false],
    ["2999-12-31T23:30:00+01:00", true],
    ["2024-02-29T00:00:00.123456+08:00", true],
    ["2023-02-29T00:00:00Z", false],
    ["2026-11-30T09:12:00+08:00", true],
    ["2026-11-30 09:12:00+08:00", false],
    ["2026-11-30T09:12:00", false],
    ["\u0662\u0660\u0662\u0666-01-01T10:00:00Z", false],
    ["2026-11-30T09:12:00+08:00\n", false],
    ["1899-12-31T23:30:00-01:00", true],
  ])("instant %j", (value, ok) => {
    expect(instant()(value)).toBe(ok);
  });

  test.each<[string, boolean]>([
    ["2024-02-29", true],
    ["2023-02-29", false],
    ["0000-01-01", false],
    ["2026-13-01", false],
    ["2026-1-01", false],
    ["2026-01-01\n", false],
  ])("day %j", (value, ok) => {
    expect(day()(value)).toBe(ok);
  });

  test.each<[string, boolean]>([
    ["25.951234", true],
    ["25.951234\n", false],
    ["\uff11\uff11\uff15.\uff14\uff11\uff12\uff13\uff14\uff15", false],
    ["-115.412345", true],
    ["1234.123456", false],
    ["25.95123", false],
  ])("coordinate %j", (value, ok) => {
    expect(pattern(COORD)(value)).toBe(ok);
  });
});

describe("peek: what is read of a mutation that does not decode", () => {
  const longId = "检查".repeat(11);
  test.each<[string, string | null, number | null]>([
    ['{"id":5,"seq":2.0}', "5", null],
    ['{"id":{"a":[1,true,null,1.5]},"seq":true}', "{'a': [1, True, None, 1.5]}", null],
    [
      '{"id":"{12345678-1234-1234-1234-123456789ABC}","seq":7}',
      "12345678-1234-1234-1234-123456789abc",
      7,
    ],
    ['{"id": "faddc410", "seq": 2, "kind": ', "faddc410", 2],
    ['"{\\"id\\":\\"a\\",\\"seq\\":4}"', "a", 4],
    ["[1]", null, null],
    ['{"id":1e22,"seq":1}', "1e+22", 1],
    ['{"seq":3,"x":"\\ud800"}', null, 3],
    [`{"id": "${longId}", "seq": 9, `, null, 9],
    ['{"id":1e400,"seq":2}', null, 2],
  ])("%s", (raw, mutationId, seq) => {
    const read = peek(raw);
    expect([read.mutationId, read.seq]).toEqual([mutationId, seq]);
  });
});

describe("the strict reading of a mutation (msgspec)", () => {
  const base = {
    id: "8920B268-67D1-59A8-9D77-5B506E9DBA6F",
    client_id: "dev-a",
    seq: 1,
    hlc: "001764460000001.000000.dev-a",
    kind: "set",
    entity: "check_item",
    entity_id: "8920b26867d159a89d775b506e9dba6f",
    task_id: "8920b268-67d1-59a8-9d77-5b506e9dba6f",
  };
  const text = JSON.stringify(base).slice(0, -1);

  test("ids in either case, with or without hyphens, come out canonical", () => {
    const m = decodeMutation(`${text},"payload":{"a":1,"a":2},"base_version":null}`);
    expect(m.id).toBe("8920b268-67d1-59a8-9d77-5b506e9dba6f");
    expect(m.entity_id).toBe("8920b268-67d1-59a8-9d77-5b506e9dba6f");
    expect(m.payload.get("a")).toBe(2);
    expect(m.base_versions.size).toBe(0);
  });

  test.each([
    ["a float seq", JSON.stringify({ ...base, seq: 1.5 })],
    ["an integral float seq", `${JSON.stringify(base).replace('"seq":1', '"seq":1.0')}`],
    ["seq 0", JSON.stringify({ ...base, seq: 0 })],
    ["seq beyond 2^53 - 1", JSON.stringify(base).replace('"seq":1', '"seq":9007199254740992')],
    ["an unknown field", `${text},"extra":1}`],
    ["a missing field", JSON.stringify({ ...base, hlc: undefined })],
    ["a braced uuid", JSON.stringify({ ...base, task_id: `{${base.task_id}}` })],
    ["a lone surrogate escape", `${text},"payload":{"a":"\\ud800"}}`],
    ["a float out of range", `${text},"payload":{"a":1e400}}`],
    ["a null payload", `${text},"payload":null}`],
    ["a float base version", `${text},"base_versions":{"a":1.0}}`],
    ["an unknown kind", JSON.stringify({ ...base, kind: "update" })],
    ["a trailing comma", `${text},}`],
    ["two newlines after the client id", JSON.stringify({ ...base, client_id: "dev-a\n\n" })],
  ])("refuses %s", (_, raw) => {
    expect(() => decodeMutation(raw)).toThrow(DecodeError);
  });
});

// Known answers for the synchronous hashes and the ids made from them (expected values from
// FIPS 180-4's examples and from Python's hashlib and uuid).
import { describe, expect, test } from "vitest";
import { sha1 } from "./sha1";
import { sha256Hex, toHex } from "./sha256";
import { SYNC_NAMESPACE, serverRecordId, uuid5 } from "./uuid";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("sha256", () => {
  test.each([
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
    ["检查", "978e275133d14c1c4f0dc2f157804b8b8cf9e65973d2e859778b896c1a963080"],
  ])("sha256(%j)", (input, digest) => {
    expect(sha256Hex(input)).toBe(digest);
  });

  test("a million a's (many blocks)", () => {
    expect(sha256Hex(new Uint8Array(1_000_000).fill(0x61))).toBe(
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    );
  });

  test("every padding length around a block boundary agrees with WebCrypto", async () => {
    for (let length = 50; length <= 130; length++) {
      const data = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
      const expected = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
      expect(sha256Hex(data), String(length)).toBe(expected);
    }
  });
});

describe("sha1 and uuid5", () => {
  test.each([
    ["abc", "a9993e364706816aba3e25717850c26c9cd0d89d"],
    ["检查", "40ffb34860e71de82970a3e403de97c4728fc76c"],
  ])("sha1(%j)", (input, digest) => {
    expect(toHex(sha1(ascii(input)))).toBe(digest);
  });

  test("the sync namespace and the ids made in it are Python's", () => {
    expect(SYNC_NAMESPACE).toBe("a3e6ac09-6461-502b-a9bc-1c9e4c14d5e8");
    expect(uuid5(SYNC_NAMESPACE, "x")).toBe("f466a87b-c5e8-578b-b494-bbff8da96224");
    expect(uuid5(SYNC_NAMESPACE, "conflict/1")).toBe("17fcca45-ad8d-59e1-843b-4bd91feec7ef");
    expect(serverRecordId("a5b297f4-70fd-5aa2-995a-5cf042216917", "check_item", "p1")).toBe(
      "8920b268-67d1-59a8-9d77-5b506e9dba6f",
    );
  });
});

import { describe, expect, test } from "vitest";
import { InvalidHlc } from "./errors";
import { Hlc, HybridClock, MAX_DRIFT_MS } from "./hlc";

const WALL = 1_764_460_900_000;

describe("the HLC string", () => {
  test("is {ms:015d}.{counter:06d}.{node} and reads back", () => {
    const stamp = new Hlc(1_764_460_000_001, 7, "dev-a");
    expect(stamp.toString()).toBe("001764460000001.000007.dev-a");
    expect(Hlc.parse(stamp.toString())).toEqual(stamp);
  });

  test.each([
    "1764460000001.000000.dev-a",
    "001764460000001.0.dev-a",
    "001764460000001.000000.",
    "001764460000001.000000.dev a",
    `001764460000001.000000.${"x".repeat(65)}`,
    "001764460000001.000000.dev-a\n\n",
  ])("refuses %j", (text) => {
    expect(() => Hlc.parse(text)).toThrow(InvalidHlc);
  });

  test("takes ASCII digits only and nothing after the node (the server is as strict)", () => {
    expect(() => Hlc.parse("٠٠١٧٦٤٤٦٠٠٠٠٠٠١.000002.dev-a")).toThrow(InvalidHlc);
    expect(() => Hlc.parse("001764460000001.000000.dev-a\n")).toThrow(InvalidHlc);
    expect(Hlc.parse("001764460000001.000002.dev-a").toString()).toBe(
      "001764460000001.000002.dev-a",
    );
  });

  test("orders as strings: time, then counter, then node", () => {
    const sorted = [
      "001764460000002.000000.a",
      "001764460000001.000001.a",
      "001764460000001.000000.b",
      "001764460000001.000000.a",
    ].sort();
    expect(sorted[0]).toBe("001764460000001.000000.a");
    expect(sorted[3]).toBe("001764460000002.000000.a");
  });
});

describe("the hybrid clock", () => {
  test("moves forward even when the wall clock goes back", () => {
    let wall = WALL;
    const clock = new HybridClock(() => wall, "dev-a");
    expect(clock.now().toString()).toBe("001764460900000.000000.dev-a");
    wall -= 5000;
    expect(clock.now().toString()).toBe("001764460900000.000001.dev-a");
    wall += 10_000;
    expect(clock.now().toString()).toBe("001764460905000.000000.dev-a");
  });

  test("a counter beyond 999999 carries into the milliseconds", () => {
    const clock = new HybridClock(() => 0);
    clock.observe(new Hlc(5, 999_999, "dev-a"));
    expect(clock.now().toString()).toBe("000000000000006.000000.server");
  });

  test("a remote stamp more than 10 minutes ahead is clamped and flagged", () => {
    const clock = new HybridClock(() => WALL);
    const ahead = clock.observe(new Hlc(WALL + MAX_DRIFT_MS + 1, 3, "dev-a"));
    expect(ahead.skewed).toBe(true);
    expect(ahead.effective.toString()).toBe("001764461500000.000003.dev-a");
    expect(clock.last.toString()).toBe("001764461500000.000003.server");
    const atLimit = clock.observe(new Hlc(WALL + MAX_DRIFT_MS, 4, "dev-b"));
    expect(atLimit).toEqual({ effective: new Hlc(WALL + MAX_DRIFT_MS, 4, "dev-b"), skewed: false });
  });

  test("an older remote stamp does not move the clock back", () => {
    const clock = new HybridClock(() => WALL);
    clock.now();
    const seen = clock.observe(new Hlc(WALL - 1, 9, "dev-a"));
    expect(seen.skewed).toBe(false);
    expect(clock.last.toString()).toBe("001764460900000.000000.server");
  });
});

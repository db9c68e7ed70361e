import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { DEFAULT_CONFIG, type DeadlineConfig, type LightFacts, lightOf } from "./lights";

interface Case {
  name: string;
  facts: LightFacts;
  now: string;
  config?: Partial<DeadlineConfig>;
  expected: { color: string; phase: string | null };
}

const file = new URL("../../../backend/domain/deadlines/light_cases.json", import.meta.url);
const cases = (JSON.parse(readFileSync(file, "utf-8")) as { cases: Case[] }).cases;

describe("the lights agree with the backend's cases", () => {
  test("every case is here", () => {
    expect(cases.length).toBeGreaterThanOrEqual(27);
  });
  for (const c of cases) {
    test(c.name, () => {
      const got = lightOf(c.facts, Date.parse(c.now), { ...DEFAULT_CONFIG, ...c.config });
      expect({ color: got.color, phase: got.phase }).toEqual(c.expected);
    });
  }
});

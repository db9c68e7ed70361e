import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { exifInstant, readExif } from "./exif";

function fixture(name: string): ArrayBuffer {
  const bytes = readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

describe("EXIF", () => {
  test("a camera photo's time (Beijing time when it has no offset) and position", async () => {
    const exif = await readExif(fixture("gps-exif.jpg"));
    expect(exif.takenAt?.toISOString()).toBe("2026-11-30T02:15:00.000Z");
    expect(exif.latitude).toBeCloseTo(25.951778, 5);
    expect(exif.longitude).toBeCloseTo(115.411917, 5);
  });

  test("a file without EXIF has none, and is not an error", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]).buffer;
    expect(await readExif(png)).toEqual({ takenAt: null, latitude: null, longitude: null });
  });

  test.each([
    ["2026:11:30 10:15:00", undefined, "2026-11-30T02:15:00.000Z"],
    ["2026:11:30 10:15:00", "+00:00", "2026-11-30T10:15:00.000Z"],
    ["2026:11:30 10:15:00", "nonsense", "2026-11-30T02:15:00.000Z"],
    ["0000:00:00 00:00:00", undefined, null],
    ["yesterday", undefined, null],
  ])("%s %s", (raw, offset, expected) => {
    expect(exifInstant(raw, offset)?.toISOString() ?? null).toBe(expected);
  });
});

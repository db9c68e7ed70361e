// The EXIF time and position of a photo, read on the phone (the server reads the original's
// too and flags a disagreement). A camera that writes no offset writes the local time, which
// in China is Beijing time — the server reads it the same way.

export interface Exif {
  takenAt: Date | null;
  latitude: number | null;
  longitude: number | null;
}

const NONE: Exif = { takenAt: null, latitude: null, longitude: null };

/** "YYYY:MM:DD HH:MM:SS" with an optional "+08:00" offset, as an instant; null when unreadable. */
export function exifInstant(raw: unknown, offset: unknown): Date | null {
  if (typeof raw !== "string") {
    return null;
  }
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(raw.trim());
  if (m === null) {
    return null;
  }
  const zone =
    typeof offset === "string" && /^[+-]\d{2}:\d{2}$/.test(offset.trim())
      ? offset.trim()
      : "+08:00";
  const when = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${zone}`);
  return Number.isNaN(when.getTime()) ? null : when;
}

function coordinate(value: unknown, limit: number): number | null {
  return typeof value === "number" && Number.isFinite(value) && Math.abs(value) <= limit
    ? value
    : null;
}

export async function readExif(bytes: ArrayBuffer): Promise<Exif> {
  try {
    const exifr = await import("exifr/dist/lite.esm.mjs");
    const tags = (await exifr.parse(bytes, {
      tiff: false,
      exif: { pick: ["DateTimeOriginal", "OffsetTimeOriginal"] },
      gps: true,
      reviveValues: false,
    })) as Record<string, unknown> | undefined;
    if (tags === undefined) {
      return NONE;
    }
    return {
      takenAt: exifInstant(tags.DateTimeOriginal, tags.OffsetTimeOriginal),
      latitude: coordinate(tags.latitude, 90),
      longitude: coordinate(tags.longitude, 180),
    };
  } catch {
    return NONE; // no EXIF, or EXIF that cannot be read, is not an error: the photo stands
  }
}

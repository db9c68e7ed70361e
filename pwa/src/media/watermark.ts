// The evidence image: the photo scaled to about 1600 px on its long edge, JPEG quality 0.8,
// with a visible band of time, place, inspector and task burnt in (DESIGN §5).

export const LONG_EDGE = 1600;
export const QUALITY = 0.8;

/** The server's default pixel limit (a decompression bomb is refused above it). */
export const MAX_PIXELS = 64_000_000;

export class TooManyPixels extends Error {}

export async function evidenceImage(original: Blob, lines: string[]): Promise<Blob> {
  const bitmap = await createImageBitmap(original, { imageOrientation: "from-image" });
  if (bitmap.width * bitmap.height > MAX_PIXELS) {
    bitmap.close();
    throw new TooManyPixels(`${bitmap.width}×${bitmap.height}`);
  }
  const scale = Math.min(1, LONG_EDGE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  if (g === null) {
    throw new Error("canvas unavailable");
  }
  g.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const size = Math.max(14, Math.round(Math.min(width, height) / 28));
  const pad = Math.round(size * 0.6);
  const band = lines.length * size * 1.35 + pad * 2;
  g.fillStyle = "rgba(0, 0, 0, 0.55)";
  g.fillRect(0, height - band, width, band);
  g.fillStyle = "#ffffff";
  g.font = `${size}px "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif`;
  g.textBaseline = "top";
  lines.forEach((line, i) => {
    g.fillText(line, pad, height - band + pad + i * size * 1.35, width - pad * 2);
  });
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("could not encode the evidence image"))),
      "image/jpeg",
      QUALITY,
    );
  });
}

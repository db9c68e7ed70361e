// Synchronous SHA-1 (FIPS 180-4), only for name-based UUIDs (uuid5); never for integrity.

import { padMessage } from "./sha256";

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

function round(i: number, b: number, c: number, d: number): [number, number] {
  if (i < 20) {
    return [(b & c) | (~b & d), 0x5a827999];
  }
  if (i < 40) {
    return [b ^ c ^ d, 0x6ed9eba1];
  }
  if (i < 60) {
    return [(b & c) | (b & d) | (c & d), 0x8f1bbcdc];
  }
  return [b ^ c ^ d, 0xca62c1d6];
}

function compress(state: Uint32Array, view: DataView, offset: number, w: Uint32Array): void {
  for (let i = 0; i < 16; i++) {
    w[i] = view.getUint32(offset + i * 4);
  }
  for (let i = 16; i < 80; i++) {
    w[i] = rotl((w[i - 3] ?? 0) ^ (w[i - 8] ?? 0) ^ (w[i - 14] ?? 0) ^ (w[i - 16] ?? 0), 1);
  }
  let [a, b, c, d, e] = Array.from(state) as [number, number, number, number, number];
  for (let i = 0; i < 80; i++) {
    const [f, k] = round(i, b, c, d);
    const t = (rotl(a, 5) + f + e + k + (w[i] ?? 0)) | 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = t;
  }
  const next = [a, b, c, d, e];
  for (let i = 0; i < 5; i++) {
    state[i] = ((state[i] ?? 0) + (next[i] ?? 0)) | 0;
  }
}

/** The SHA-1 digest of `data`. */
export function sha1(data: Uint8Array): Uint8Array {
  const padded = padMessage(data);
  const view = new DataView(padded.buffer);
  const state = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const w = new Uint32Array(80);
  for (let offset = 0; offset < padded.length; offset += 64) {
    compress(state, view, offset, w);
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 5; i++) {
    outView.setUint32(i * 4, state[i] ?? 0);
  }
  return out;
}

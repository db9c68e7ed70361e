// The initial JavaScript budget: the entry script and every chunk index.html preloads, gzipped,
// must stay within 100 KB (a cheap phone on a weak signal starts the app from these bytes).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = 100 * 1024;
const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf-8");
const scripts = [
  ...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/([^"]+\.js)"/g),
].map((m) => m[1]);
if (scripts.length === 0) {
  console.error("budget: no script found in dist/index.html");
  process.exit(1);
}
let total = 0;
for (const file of scripts) {
  const size = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  total += size;
  console.log(`  ${file}: ${(size / 1024).toFixed(1)} KB gzipped`);
}
const verdict = total <= BUDGET ? "within" : "OVER";
console.log(
  `initial JavaScript: ${(total / 1024).toFixed(1)} KB gzipped, ${verdict} the ${BUDGET / 1024} KB budget`,
);
process.exit(total <= BUDGET ? 0 : 1);

// The committed API client types must be what openapi-typescript makes of the committed
// OpenAPI document (whose match with the backend is checked by pytest: tests/pwa).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const out = join(mkdtempSync(join(tmpdir(), "zsjg-api-")), "schema.d.ts");
execFileSync("npx", ["openapi-typescript", "src/api/openapi.json", "-o", out], { stdio: "ignore" });
if (readFileSync(out, "utf-8") !== readFileSync("src/api/schema.d.ts", "utf-8")) {
  console.error("src/api/schema.d.ts is not current: run `npm run api` and commit it");
  process.exit(1);
}
console.log("API client types are current");

import { defineConfig } from "vite";

// `zsjg bench pwa` builds this page on its own (it is not part of the app).
export default defineConfig({
  root: "bench",
  build: { outDir: "../dist-bench", emptyOutDir: true, target: "es2022" },
});

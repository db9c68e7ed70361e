// Uploads a file to the backend with tus-js-client in Node, the way the PWA does in the browser.
//
//   node upload.mjs --endpoint URL --token T --file PATH --task ID --sha256 HEX
//                   [--chunk BYTES] [--die-at BYTES] [--resume UPLOAD_URL]
//
// Prints one JSON line per event: {"request": METHOD} as each request starts, {"url": ...} once
// the upload exists, {"done": ...} at the end, {"error": ...} on failure. --die-at ends the process abruptly once that many bytes were sent
// (a connection cut in the middle of a chunk); --resume continues an upload by its URL.
import { readFileSync } from "node:fs";
import { Upload } from "tus-js-client";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const data = readFileSync(args.file);
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");

const upload = new Upload(data, {
  endpoint: args.endpoint,
  uploadUrl: args.resume || null,
  chunkSize: Number(args.chunk || 256 * 1024),
  // as the PWA sends (ONE_TRIP_MAX in pwa/src/media/uploads.ts): a small file whole in the
  // creating request, a larger one created first and then sent in chunks
  uploadDataDuringCreation: data.length <= 64 * 1024,
  retryDelays: [0, 200, 1000],
  headers: { Authorization: `Bearer ${args.token}` },
  metadata: { sha256: args.sha256, task_id: args.task, filename: "现场照片.jpg", filetype: "image/jpeg" },
  onBeforeRequest: (req) => say({ request: req.getMethod() }),
  onUploadUrlAvailable: () => say({ url: upload.url }),
  onProgress: (sent) => {
    if (args["die-at"] && sent >= Number(args["die-at"])) {
      say({ died_at: sent });
      process.exit(3);
    }
  },
  onSuccess: () => say({ done: upload.url }),
  onError: (error) => {
    say({ error: String(error), status: error.originalResponse?.getStatus?.() ?? null });
    process.exit(2);
  },
});
upload.start();

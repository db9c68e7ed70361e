// Sends the files this phone holds (evidence images, signatures, originals) with tus, resuming
// by the upload URL kept in the file's row. A file is kept until the server confirms its
// digest: a HEAD by digest answers 200, or an upload finished.
import type { Workspace } from "../commands/workspace";
import { type FileRow, pendingFiles } from "../db/user-db";
import type { Session } from "../session";

const CHUNK = 512 * 1024;
/**
 * A file up to this size rides whole in the creating request (a signature: one round trip
 * instead of two). A larger one is created first and then sent in chunks: a creating request
 * cut off midway cannot be resumed (the phone never learnt the upload's address), so on a
 * link that drops before a large first chunk gets through the file would never arrive.
 */
export const ONE_TRIP_MAX = 64 * 1024;

export interface UploadProgress {
  digest: string;
  sent: number;
  size: number;
}

type Listener = (p: UploadProgress) => void;
const listeners = new Set<Listener>();

/** Screens follow upload progress (it is not written to the database on every chunk). */
export function onUploadProgress(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Users for whom this tab has a pass waiting for the upload lock. */
const queued = new Set<string>();

/**
 * Sends the files that wait, one at a time, under a lock of their own (a slow or stalled upload
 * never holds up the mutations' push and pull).
 *
 * When a pass is already sending (in this tab or another), it may have listed the files before
 * the newest was written: one more pass waits for the lock and then sends whatever is left.
 * More calls meanwhile add nothing — that waiting pass lists the files when it starts.
 */
export async function uploadPending(ws: Workspace, session: Session): Promise<number> {
  if (typeof XMLHttpRequest === "undefined") {
    return 0; // the service worker has no XHR; pages send the files
  }
  if (typeof navigator === "undefined" || !navigator.locks) {
    return sendAll(ws, session);
  }
  const name = `zsjg-upload-${ws.userId}`;
  const now = await navigator.locks.request(name, { ifAvailable: true }, (lock) =>
    lock === null ? null : sendAll(ws, session),
  );
  if (now !== null || queued.has(ws.userId)) {
    return now ?? 0;
  }
  queued.add(ws.userId);
  try {
    return await navigator.locks.request(name, () => {
      queued.delete(ws.userId); // a call from now on may need a pass after this one
      return sendAll(ws, session);
    });
  } finally {
    queued.delete(ws.userId);
  }
}

async function sendAll(ws: Workspace, session: Session): Promise<number> {
  // evidence images and signatures first (a record is complete with them); originals only
  // off a metered connection (DESIGN §5: on Wi-Fi, or when a lead asks for them)
  const rank = { evidence: 0, signature: 0, original: 1 } as const;
  const waiting = (await pendingFiles(ws.db).toArray())
    .filter((f) => f.kind !== "original" || mayUploadOriginals())
    .sort((a, b) => rank[a.kind] - rank[b.kind] || a.createdAt.localeCompare(b.createdAt));
  let done = 0;
  for (const file of waiting) {
    if ((await serverHas(session, file.digest)) || (await upload(ws, session, file))) {
      await ws.db.files.update(file.digest, {
        state: "confirmed",
        confirmedAt: new Date(ws.now()).toISOString(),
        lastError: null,
      });
      done += 1;
    }
  }
  return done;
}

interface NetworkInformation {
  type?: string;
  saveData?: boolean;
}

/** False on a metered (cellular) connection or with data saving on; true when unknown. */
export function mayUploadOriginals(): boolean {
  const connection = (navigator as Navigator & { connection?: NetworkInformation }).connection;
  return !(connection?.type === "cellular" || connection?.saveData === true);
}

async function serverHas(session: Session, digest: string): Promise<boolean> {
  const token = await session.accessToken();
  try {
    const response = await fetch(`/api/v1/files/${digest}`, {
      method: "HEAD",
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      cache: "no-store",
      signal: AbortSignal.timeout(30_000),
    });
    return response.status === 200;
  } catch {
    return false; // offline or too slow: the upload (which resumes) decides
  }
}

/** The server refused these bytes for good (type, size, pixels): sending them again cannot help. */
const REFUSED = new Set([413, 415, 422, 460]);
/** An upload that sends nothing for this long is stopped, to resume from where it is later. */
const STALL_MS = 60_000;

async function upload(ws: Workspace, session: Session, file: FileRow): Promise<boolean> {
  const { Upload } = await import("tus-js-client");
  const token = await session.accessToken();
  const blob = await ws.db.blobs.get(file.digest);
  if (token === null || blob === undefined) {
    return false;
  }
  return new Promise<boolean>((resolve) => {
    const task = new Upload(new Blob([blob.bytes], { type: file.mediaType }), {
      endpoint: "/api/v1/uploads",
      uploadUrl: file.uploadUrl,
      chunkSize: CHUNK,
      uploadDataDuringCreation: blob.bytes.byteLength <= ONE_TRIP_MAX,
      retryDelays: [0, 1000, 3000, 10000],
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: true,
      headers: { Authorization: `Bearer ${token}` },
      metadata: {
        sha256: file.digest,
        task_id: file.taskId,
        kind: file.kind,
        filetype: file.mediaType,
        filename: `${file.kind}-${file.digest.slice(0, 12)}`,
      },
      onUploadUrlAvailable: () => {
        void ws.db.files.update(file.digest, { uploadUrl: task.url });
      },
      onProgress: (sent, size) => {
        watchdog.refresh();
        for (const listener of listeners) {
          listener({ digest: file.digest, sent, size });
        }
      },
      onSuccess: () => {
        watchdog.stop();
        void ws.db.files.update(file.digest, { uploaded: file.size }).then(() => resolve(true));
      },
      onError: (error) => {
        watchdog.stop();
        const response = (
          error as { originalResponse?: { getStatus(): number; getBody(): string } | null }
        ).originalResponse;
        const status = response?.getStatus() ?? 0;
        if (REFUSED.has(status)) {
          void ws.db.files
            .update(file.digest, {
              state: "refused",
              lastError: refusal(status, response?.getBody() ?? ""),
              uploadUrl: null,
              uploaded: 0,
            })
            .then(() => resolve(false));
          return;
        }
        // a vanished upload starts again next time; anything else resumes where it is
        const restart = status === 404 || status === 410 || status === 409;
        void ws.db.files
          .update(file.digest, {
            lastError:
              status === 0 ? "网络中断，稍后继续上传" : `上传未完成（${status}），稍后继续`,
            ...(restart ? { uploadUrl: null, uploaded: 0 } : {}),
          })
          .then(() => resolve(false));
      },
    });
    const watchdog = stallWatch(() => {
      void task
        .abort()
        .then(() => ws.db.files.update(file.digest, { lastError: "上传停滞，稍后从中断处继续" }));
      resolve(false);
    });
    task.start();
  });
}

function stallWatch(onStall: () => void): { refresh(): void; stop(): void } {
  let timer = setTimeout(onStall, STALL_MS);
  return {
    refresh() {
      clearTimeout(timer);
      timer = setTimeout(onStall, STALL_MS);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

function refusal(status: number, body: string): string {
  let detail = "";
  try {
    detail = String((JSON.parse(body) as { detail?: unknown }).detail ?? "");
  } catch {
    // not a problem document
  }
  const why =
    status === 413
      ? "文件过大或像素过多"
      : status === 415
        ? "不是可接受的照片格式"
        : "文件校验未通过";
  return `服务器拒收：${detail || why}`.slice(0, 300);
}

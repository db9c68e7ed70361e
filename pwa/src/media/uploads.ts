// Sends the files this phone holds (evidence images, signatures, originals) with tus, resuming
// by the upload URL kept in the file's row. A file is kept until the server confirms its
// digest: a HEAD by digest answers 200, or an upload finished.
import type { Workspace } from "../commands/workspace";
import { type FileRow, pendingFiles } from "../db/user-db";
import type { Session } from "../session";

const CHUNK = 512 * 1024;

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

export async function uploadPending(ws: Workspace, session: Session): Promise<number> {
  if (typeof XMLHttpRequest === "undefined") {
    return 0; // the service worker has no XHR; pages send the files
  }
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
  const response = await fetch(`/api/v1/files/${digest}`, {
    method: "HEAD",
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    cache: "no-store",
  });
  return response.status === 200;
}

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
        for (const listener of listeners) {
          listener({ digest: file.digest, sent, size });
        }
      },
      onSuccess: () => {
        void ws.db.files.update(file.digest, { uploaded: file.size }).then(() => resolve(true));
      },
      onError: (error) => {
        const status = (
          error as { originalResponse?: { getStatus(): number } }
        ).originalResponse?.getStatus();
        // a refused or vanished upload starts again next time; anything else resumes
        const restart = status === 404 || status === 410 || status === 409;
        void ws.db.files
          .update(file.digest, {
            lastError: String(error.message).slice(0, 300),
            ...(restart ? { uploadUrl: null, uploaded: 0 } : {}),
          })
          .then(() => resolve(false));
      },
    });
    task.start();
  });
}

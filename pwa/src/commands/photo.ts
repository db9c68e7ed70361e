// A photo from the camera: the original (bytes as captured, EXIF intact) and the evidence image
// (scaled, watermarked), each named by its sha256 and kept here until the server confirms it.
// The photo record, both files and the outbox entry are written in one transaction.

import { keepFile } from "../db/user-db";
import { sha256Hex, sniffImage } from "../media/digest";
import { readExif } from "../media/exif";
import { evidenceImage, TooManyPixels } from "../media/watermark";
import { enqueue } from "./enqueue";
import { editableTask } from "./guards";
import { coordinate } from "./task";
import { CommandError, type Workspace } from "./workspace";

export const MAX_PHOTO_BYTES = 30 * 1024 * 1024;

export interface PhotoContext {
  inspectorName: string;
  taskCode: string;
  objectName: string;
  checkItemId: string | null;
  /** The last GPS fix, written on the image when the photo has no position of its own. */
  position: { latitude: number; longitude: number } | null;
}

function beijing(ms: number): string {
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai",
    dateStyle: "short",
    timeStyle: "medium",
    hour12: false,
  }).format(ms);
}

export async function takePhoto(
  ws: Workspace,
  taskId: string,
  file: Blob,
  context: PhotoContext,
): Promise<string> {
  if (file.size === 0 || file.size > MAX_PHOTO_BYTES) {
    throw new CommandError(file.size === 0 ? "照片是空的，请重拍" : "照片太大（上限 30 MB）");
  }
  const original = await file.arrayBuffer();
  const type = sniffImage(original);
  if (type === null) {
    throw new CommandError("这不是照片（只接受 JPEG、PNG、WebP）");
  }
  const exif = await readExif(original);
  const latitude = exif.latitude ?? context.position?.latitude ?? null;
  const longitude = exif.longitude ?? context.position?.longitude ?? null;
  const takenAt = exif.takenAt ?? new Date(ws.now());
  const place =
    latitude !== null && longitude !== null
      ? `${latitude.toFixed(6)}, ${longitude.toFixed(6)}`
      : "无定位";
  let evidence: ArrayBuffer;
  try {
    evidence = await (
      await evidenceImage(new Blob([original], { type }), [
        `${beijing(takenAt.getTime())}  ${place}`,
        `检查人员：${context.inspectorName}`,
        `${context.taskCode}  ${context.objectName}`,
      ])
    ).arrayBuffer();
  } catch (error) {
    if (error instanceof TooManyPixels) {
      throw new CommandError(`照片像素过多（${error.message}），请用相机的普通分辨率重拍`);
    }
    throw new CommandError("无法读取这张照片，请重拍");
  }
  const originalDigest = await sha256Hex(original);
  const evidenceDigest = await sha256Hex(evidence);
  const id = crypto.randomUUID();
  const payload: Record<string, unknown> = {
    original_digest: originalDigest,
    evidence_digest: evidenceDigest,
    taken_at: takenAt.toISOString(),
    check_item_id: context.checkItemId,
  };
  if (exif.latitude !== null && exif.longitude !== null) {
    payload.latitude = coordinate(exif.latitude, 90);
    payload.longitude = coordinate(exif.longitude, 180);
  }
  const createdAt = new Date(ws.now()).toISOString();
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.outbox, db.meta, db.files, db.blobs], async () => {
    await editableTask(ws, taskId);
    const kept = { taskId, createdAt };
    await keepFile(
      db,
      { ...kept, digest: originalDigest, kind: "original", mediaType: type },
      original,
    );
    await keepFile(
      db,
      { ...kept, digest: evidenceDigest, kind: "evidence", mediaType: "image/jpeg" },
      evidence,
    );
    await enqueue(ws, [
      { kind: "create", entity: "photo", entity_id: id, task_id: taskId, payload },
    ]);
  });
  return id;
}

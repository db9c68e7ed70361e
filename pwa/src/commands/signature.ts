// A signature (签名) of an inspector or of the business, or the business's recorded refusal
// (拒签) with its reason and witness, bound to the sha256 of the content it signs.
import { keepFile } from "../db/user-db";
import type { LocalRecord } from "../db/view";
import { sha256Hex, sniffImage } from "../media/digest";
import { currentContentHash } from "./content";
import { enqueue } from "./enqueue";
import { editableTask } from "./guards";
import { checkText } from "./text";
import { CommandError, type Workspace } from "./workspace";

export type Signer =
  | { signer: "inspector"; userId: string; name: string }
  | { signer: "business"; name: string };

export type Mark = { image: Blob } | { refused: { reason: string; witness: string } };

export async function sign(
  ws: Workspace,
  taskId: string,
  who: Signer,
  mark: Mark,
  records: Iterable<LocalRecord>,
): Promise<string> {
  const name = checkText(who.name.trim(), 64, "签名人姓名");
  if (!name) {
    throw new CommandError("请填写签名人姓名");
  }
  const payload: Record<string, unknown> = {
    signer: who.signer,
    signer_name: name,
    signed_at: new Date(ws.now()).toISOString(),
  };
  if (who.signer === "inspector") {
    payload.signer_user_id = who.userId;
  }
  let image: { digest: string; bytes: ArrayBuffer } | null = null;
  if ("image" in mark) {
    const bytes = await mark.image.arrayBuffer();
    if (sniffImage(bytes) !== "image/png" || bytes.byteLength > 2 * 1024 * 1024) {
      throw new CommandError("签名图像无效，请重新签名");
    }
    image = { digest: await sha256Hex(bytes), bytes };
    payload.image_digest = image.digest;
  } else {
    if (who.signer !== "business") {
      throw new CommandError("检查人员不能拒签");
    }
    const reason = checkText(mark.refused.reason.trim(), 500, "拒签原因");
    if (!reason) {
      throw new CommandError("请写明拒签原因");
    }
    const witness = checkText(mark.refused.witness.trim(), 64, "见证人");
    payload.refused = { reason, witness: witness || null };
  }
  const id = crypto.randomUUID();
  const { db } = ws;
  await db.transaction("rw", [db.tasks, db.outbox, db.meta, db.files, db.blobs], async () => {
    const task = await editableTask(ws, taskId);
    payload.content_hash = currentContentHash(taskId, task.object.uscc, records);
    if (image !== null) {
      const createdAt = new Date(ws.now()).toISOString();
      await keepFile(
        db,
        { digest: image.digest, taskId, kind: "signature", mediaType: "image/png", createdAt },
        image.bytes,
      );
    }
    await enqueue(ws, [
      { kind: "create", entity: "signature", entity_id: id, task_id: taskId, payload },
    ]);
  });
  return id;
}

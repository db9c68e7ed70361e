import { useEffect, useState } from "preact/hooks";
import { type PhotoContext, takePhoto } from "../commands/photo";
import type { LocalRecord } from "../db/view";
import { useApp } from "../ui/app-context";
import { useLive } from "../ui/live";

/** The evidence image of a photo, from this phone's store (null when only the server has it). */
function useEvidenceUrl(digest: string): string | null {
  const { ws } = useApp();
  const file = useLive(() => ws.db.files.get(digest), [ws, digest], undefined);
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    let alive = true;
    if (file !== undefined) {
      void ws.db.blobs.get(file.digest).then((blob) => {
        if (alive && blob !== undefined) {
          made = URL.createObjectURL(new Blob([blob.bytes], { type: file.mediaType }));
          setUrl(made);
        }
      });
    }
    return () => {
      alive = false;
      if (made !== null) {
        URL.revokeObjectURL(made);
      }
    };
  }, [file?.digest]);
  return url;
}

function Thumb({ photo }: { photo: LocalRecord }) {
  const digest = String(photo.fields.evidence_digest?.value ?? "");
  const url = useEvidenceUrl(digest);
  return (
    <figure class="thumb" data-photo={photo.id} data-digest={digest}>
      {url ? <img src={url} alt="现场照片" /> : <span class="muted small">已在服务器</span>}
      {photo.pending && <figcaption class="small">待同步</figcaption>}
    </figure>
  );
}

export function Photos({
  taskId,
  photos,
  context,
  editable,
  run,
}: {
  taskId: string;
  photos: LocalRecord[];
  context: PhotoContext;
  editable: boolean;
  run: (work: () => Promise<void>) => Promise<void>;
}) {
  const { ws } = useApp();
  const [busy, setBusy] = useState(false);
  const take = async (input: HTMLInputElement) => {
    const files = Array.from(input.files ?? []);
    input.value = "";
    setBusy(true);
    try {
      for (const file of files) {
        await run(async () => {
          await takePhoto(ws, taskId, file, context);
        });
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="photos">
      <div class="strip">
        {photos.map((p) => (
          <Thumb key={p.id} photo={p} />
        ))}
      </div>
      {editable && (
        <label class={`button ${busy ? "busy" : ""}`}>
          {busy ? "正在处理照片…" : "拍照"}
          <input
            type="file"
            accept="image/jpeg,image/png,image/webp"
            capture="environment"
            multiple
            class="sr-only"
            disabled={busy}
            onChange={(e) => void take(e.currentTarget)}
          />
        </label>
      )}
    </div>
  );
}

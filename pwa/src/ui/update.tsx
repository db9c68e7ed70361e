// A new version of the app is offered, never forced: the waiting service worker takes over
// only when the inspector taps "更新", and never while a text field is being edited.
import { useEffect, useState } from "preact/hooks";
import type { Workbox } from "workbox-window";

let workbox: Workbox | null = null;

export function UpdateBanner() {
  const [waiting, setWaiting] = useState(false);
  useEffect(() => {
    if (!("serviceWorker" in navigator) || import.meta.env.DEV) {
      return;
    }
    void import("workbox-window").then(({ Workbox }) => {
      workbox = new Workbox("/sw.js", { scope: "/" });
      workbox.addEventListener("waiting", () => setWaiting(true));
      workbox.addEventListener("controlling", () => window.location.reload());
      void workbox.register();
    });
  }, []);
  if (!waiting) {
    return null;
  }
  const update = () => {
    const active = document.activeElement;
    if (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement) {
      active.blur(); // saves the field (on blur) before the page reloads
    }
    workbox?.messageSkipWaiting();
  };
  return (
    <div class="notice update" role="status">
      有新版本可用。填写完成后点
      <button type="button" onClick={update}>
        更新
      </button>
    </div>
  );
}

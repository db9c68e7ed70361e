// A new version of the app is offered, never forced: the waiting service worker takes over
// only when the inspector taps "更新" (a field being edited is saved first, on blur).
import { useEffect, useState } from "preact/hooks";
import type { Workbox } from "workbox-window";

let workbox: Workbox | null = null;
let waiting = false;
const listeners = new Set<() => void>();

/** Registers the service worker once, at start, on every screen (sign-in included). */
export function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator) || import.meta.env.DEV) {
    return;
  }
  void import("workbox-window").then(({ Workbox }) => {
    workbox = new Workbox("/sw.js", { scope: "/" });
    workbox.addEventListener("waiting", () => {
      waiting = true;
      for (const listener of listeners) {
        listener();
      }
    });
    // reload only after the user asked for the update (a first install also takes control)
    workbox.addEventListener("controlling", (event) => {
      if (event.isUpdate) {
        window.location.reload();
      }
    });
    workbox.register().catch((error: unknown) => console.error("service worker", error));
  });
}

export function UpdateBanner() {
  const [shown, setShown] = useState(waiting);
  useEffect(() => {
    const show = () => setShown(true);
    listeners.add(show);
    return () => {
      listeners.delete(show);
    };
  }, []);
  if (!shown) {
    return null;
  }
  const update = () => {
    const active = document.activeElement;
    if (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement) {
      active.blur();
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

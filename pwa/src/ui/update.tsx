// A new version of the app is offered, never forced: the waiting service worker takes over
// only when the inspector taps "更新" (a field being edited is saved first, on blur).
import { useEffect, useState } from "preact/hooks";
import type { Workbox } from "workbox-window";
import { allSaved } from "./saving";

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
  const update = async () => {
    const active = document.activeElement;
    if (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement) {
      active.blur(); // saves the field being edited
    }
    await new Promise((resolve) => setTimeout(resolve)); // let the blur's save start
    await allSaved();
    // reload once the new version controls the page — only after the inspector asked for it
    navigator.serviceWorker.addEventListener("controllerchange", () => window.location.reload(), {
      once: true,
    });
    workbox?.messageSkipWaiting();
  };
  return (
    <div class="notice update" role="status">
      <span>有新版本可用：填写完当前内容后更新。</span>
      <button type="button" onClick={() => void update()}>
        更新
      </button>
    </div>
  );
}

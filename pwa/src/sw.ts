/// <reference lib="webworker" />
// The service worker: the app's files come from the precache, so the app starts offline;
// the API is never cached here (the local database holds the data). A new version waits
// until the user accepts it (see ui/update.ts), so it never replaces a page with a form open.
import { clientsClaim } from "workbox-core";
import {
  cleanupOutdatedCaches,
  createHandlerBoundToURL,
  precacheAndRoute,
} from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";
import { runBackgroundSync } from "./sync/background";

declare const self: ServiceWorkerGlobalScope;

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
registerRoute(
  new NavigationRoute(createHandlerBoundToURL("index.html"), {
    denylist: [/^\/api\//, /^\/schema/, /^\/healthz/],
  }),
);

self.addEventListener("message", (event: ExtendableMessageEvent) => {
  // workbox-window's messageSkipWaiting() sends {type: "SKIP_WAITING"}
  if ((event.data as { type?: string } | null)?.type === "SKIP_WAITING") {
    void self.skipWaiting();
  }
});
clientsClaim();

interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
}

self.addEventListener("sync", (event) => {
  const e = event as SyncEvent;
  if (e.tag === "zsjg-sync") {
    e.waitUntil(runBackgroundSync(self));
  }
});

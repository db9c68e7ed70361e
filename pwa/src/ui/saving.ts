// Saves in flight: an update (which reloads the page) waits for them to finish first.
const inflight = new Set<Promise<unknown>>();

export function track<T>(work: Promise<T>): Promise<T> {
  inflight.add(work);
  void work.finally(() => inflight.delete(work)).catch(() => undefined);
  return work;
}

export async function allSaved(): Promise<void> {
  while (inflight.size > 0) {
    await Promise.allSettled([...inflight]);
  }
}

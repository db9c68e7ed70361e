// Reads are live queries: a screen re-renders when the tables it read change (in this tab,
// another tab, or the service worker).
import { liveQuery } from "dexie";
import { useEffect, useState } from "preact/hooks";

export function useLive<T>(query: () => Promise<T>, deps: unknown[], initial: T): T {
  const [value, setValue] = useState<T>(initial);
  useEffect(() => {
    const subscription = liveQuery(query).subscribe({
      next: (v) => setValue(() => v),
      error: (e) => console.error("live query failed", e),
    });
    return () => subscription.unsubscribe();
  }, deps);
  return value;
}

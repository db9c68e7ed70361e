/** An exclusive Web Lock manager for tests: `request` with or without `ifAvailable`, as the app uses it. */
export function lockManager() {
  const held = new Set<string>();
  const waiting = new Map<string, (() => void)[]>();
  return {
    async request<T>(
      name: string,
      ...args:
        | [(lock: object | null) => Promise<T>]
        | [{ ifAvailable?: boolean }, (lock: object | null) => Promise<T>]
    ): Promise<T> {
      const [options, callback] = args.length === 1 ? [{}, args[0]] : args;
      if (held.has(name)) {
        if (options.ifAvailable) {
          return callback(null);
        }
        await new Promise<void>((resolve) => {
          waiting.set(name, [...(waiting.get(name) ?? []), resolve]);
        });
      }
      held.add(name);
      try {
        return await callback({});
      } finally {
        held.delete(name);
        waiting.get(name)?.shift()?.();
      }
    },
  };
}

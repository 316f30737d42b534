// A bounded memo for compiled patterns: a fleet run compiles the same few globs and regexps for
// every host (a play's `hosts:`, known_hosts lines, a lineinfile regexp), which was a large share
// of the controller's CPU at 200 hosts. Bounded, so patterns from unbounded input cannot grow it.

const LIMIT = 2048;

/** `compile` wrapped so each distinct key compiles once (the oldest entries dropped past LIMIT). */
export function memoize<T>(compile: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const value = compile(key);
    if (cache.size >= LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, value);
    return value;
  };
}

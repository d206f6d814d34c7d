import { afterAll, beforeAll } from 'vitest';

/**
 * A stand-in for a value that exists only once `beforeAll` made it: every property read is
 * passed to the value, so a test file declares what it uses once, at the top, instead of a
 * `let` and an assignment for each.
 */
export function lazy<T extends object>(value: () => T | undefined, what: string): T {
  let made: T | undefined;
  const get = (): T => {
    made ??= value();
    if (made === undefined) throw new Error(`${what} is used before beforeAll made it`);
    return made;
  };
  return new Proxy({} as T, {
    get(_target, key) {
      const target = get();
      const property: unknown = Reflect.get(target, key);
      return typeof property === 'function' ? (property as () => unknown).bind(target) : property;
    },
  });
}

/** A resource for one test file: started before its tests, closed after them. */
export function perFile<T extends { close(): unknown }>(start: () => Promise<T>, what: string): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    await started?.close();
  });
  return lazy(() => started, what);
}

/**
 * How long a test waits for something before it fails. CI runs on a loaded two-core machine
 * where a few milliseconds of work can take seconds; the deadline only decides how soon a
 * failing test gives up, so it is far longer than any healthy wait, and shorter than vitest's
 * test timeout so that the failure names what did not happen.
 */
export const PATIENCE_MS = 20_000;

/**
 * Resolves once `condition` holds, checking it every 20 ms; rejects naming `what` when it
 * still does not hold after `withinMs`.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  withinMs = PATIENCE_MS,
): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

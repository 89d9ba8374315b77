/**
 * Report an exception thrown by app code (a listener) without letting it change anything:
 * `reportError` where the platform has it (browsers, Deno, Node ≥ 22 for some builds),
 * else `console.error`.
 */
export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') {
    try {
      report(error);
      return;
    } catch {
      // Fall through: a report that throws must not take the connection with it.
    }
  }
  console.error(error);
}

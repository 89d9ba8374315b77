/**
 * How a value from outside (a peer's frame, an app's argument) is named in a message,
 * and the `TypeError` for a wrong argument. On the lowest floor, so the adapters, the
 * server and the machine word these the same way.
 */

/** Longest text of a peer's that a message quotes; the rest is cut off with `…`. */
const QUOTE_CHARS = 64;

/**
 * A value named safely: a string quoted and cut short, a number or boolean as it is,
 * anything else by its kind. Never serialised whole (it may be huge, cyclic or hostile)
 * and never asked to convert itself (its `toString` may be anything).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > QUOTE_CHARS ? `${value.slice(0, QUOTE_CHARS)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

/**
 * What an error a peer sent says, as text: a string (cut short), an `Error`'s message,
 * or the kind of value it is. Safe on any input.
 */
export function describeError(error: unknown): string {
  if (typeof error === 'string') return describeValue(error).slice(1, -1);
  if (error instanceof Error && typeof error.message === 'string')
    return describeValue(error.message).slice(1, -1);
  return describeValue(error);
}

/**
 * A wrong argument or option: a `TypeError` naming what was wrong, what is accepted and
 * what was given, prefixed with the entry point (`holdfast`, `holdfast/sse`, …).
 */
export function invalidArgument(
  what: string,
  expected: string,
  got: unknown,
  entry = 'holdfast',
): TypeError {
  return new TypeError(`${entry}: ${what} must be ${expected}, got ${describeValue(got)}`);
}

/** What the runtime is missing, and which option supplies it. */
export function missingGlobal(entry: string, what: string, remedy: string): TypeError {
  return new TypeError(`${entry}: there is no global ${what} here: ${remedy}`);
}

/**
 * A listener of a socket or an event source, run so that nothing escapes into the
 * runtime's event loop: an exception in `body` (a bug, or a value no check foresaw) is
 * handed to `onThrow` — an adapter ends its link as a protocol error there — and an
 * exception in `onThrow` itself is swallowed, the link being over either way.
 */
export function guardListener<A extends unknown[]>(
  what: string,
  body: (...args: A) => void,
  onThrow: (reason: string, error: unknown) => void,
): (...args: A) => void {
  return (...args) => {
    try {
      body(...args);
    } catch (error) {
      try {
        onThrow(`${what} failed: ${describeError(error)}`, error);
      } catch {
        // Ending the link threw too (an app's close handler): nothing may escape.
      }
    }
  };
}

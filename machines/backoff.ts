/** How long to wait before link attempt number `attempt` (starting at 1), in ms. */
export type Backoff = (attempt: number) => number;

export interface FullJitterOptions {
  /** The first attempt waits up to this long. @default 500 */
  baseMs?: number;
  /** No wait is longer than this. @default 30000 */
  capMs?: number;
  /** A source of numbers in [0, 1). @default Math.random */
  random?: () => number;
}

/**
 * Full-jitter exponential backoff: a random wait in `[0, min(cap, base · 2^(attempt−1)))`.
 * The jitter spreads a crowd of clients that lost the same server, so they do not all
 * come back in the same millisecond.
 */
export function fullJitterBackoff(options: FullJitterOptions = {}): Backoff {
  const baseMs = options.baseMs ?? 500;
  const capMs = options.capMs ?? 30_000;
  const random = options.random ?? Math.random;
  return (attempt) => {
    // 2^attempt overflows to Infinity long after min() has chosen the cap.
    const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
    return Math.floor(random() * ceiling);
  };
}

/** The default backoff: full jitter, base 500 ms, cap 30 s. */
export const defaultBackoff: Backoff = fullJitterBackoff();

/** setTimeout fires anything above this after 1 ms, so no wait may exceed it. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The wait before reconnect attempt `attempt`, from the app's backoff. A backoff that
 * throws or answers something that is not a finite number ≥ 0 falls back to the default,
 * so a bug in it cannot stop the connection from coming back; the answer is clamped to
 * what setTimeout can honour.
 */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  let ms: number;
  try {
    ms = backoff(attempt);
  } catch {
    ms = Number.NaN;
  }
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) ms = defaultBackoff(attempt);
  return Math.min(Math.floor(ms), MAX_TIMEOUT_MS);
}

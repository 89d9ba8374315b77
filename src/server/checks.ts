/**
 * The reference server's checks on the values it is handed: stream names and message ids
 * within their bounds, numeric options within theirs, and whether a hook returned a
 * promise. Shared by the hub and both wire halves, so each bound is stated once.
 */
import { invalidArgument } from '../../adapters/describe.js';

/** The entry point a `TypeError` from the server names. */
export const ENTRY = 'holdfast/server';

/** Stream names and message ids are 1 to this many characters. */
export const MAX_NAME_CHARS = 256;

/** Whatever a hook returned, when it is a promise (or any thenable). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A stream name or a message id: a string of 1 to `MAX_NAME_CHARS` characters. */
export function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_NAME_CHARS;
}

/**
 * An option that must be a positive number (at most `max`), or its default when absent.
 * A wrong one throws a `TypeError` from `createServer`.
 */
export function positiveOption(
  name: string,
  value: unknown,
  fallback: number,
  max = Number.POSITIVE_INFINITY,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || value > max)
    throw invalidArgument(
      `option ${name}`,
      max === Number.POSITIVE_INFINITY ? 'a positive number' : `a positive number up to ${max}`,
      value,
      ENTRY,
    );
  return value;
}

/**
 * The errors only a store raises (D5, D6), built here rather than as statics of the error
 * classes so that they come with the store's logic: an app without a store bundles none.
 */
import { describeError } from '../adapters/describe.js';
import { ConnectionError } from './connection-error.js';
import { DeliveryError } from './errors.js';

/** Another live connection owns the store: this one waits until it lets go (D5). */
export function storeBusy(): ConnectionError {
  return new ConnectionError(
    'store-busy',
    'holdfast: another connection owns the store; this one waits in connecting until it is closed',
  );
}

/**
 * The store failed (D6). `during`: what failed; `fallback`: the connection goes on in
 * memory (`storeFallback: 'memory'`) rather than closing.
 */
export function storeFailed(
  during: 'open' | 'write',
  cause: unknown,
  fallback = false,
  count?: number,
): ConnectionError {
  const what =
    during === 'open'
      ? `the store could not be opened${fallback ? '; going on in memory (storeFallback), so nothing outlives this process' : ''}`
      : count
        ? `a store write failed; the ${count} message(s) it was to save were rejected unsent`
        : 'a store write failed; the removals and positions it held go with the next write';
  return new ConnectionError('store', `holdfast: ${what} (${describeError(cause)})`, {
    cause,
    ...(count === undefined ? {} : { count }),
  });
}

/** Records of the store that could not be read: reported and left out, the rest kept. */
export function storeProblems(problems: readonly string[]): ConnectionError {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new ConnectionError(
    'store',
    `holdfast: the store held ${problems.length} record(s) that could not be read and were left out: ${problems[0]}${more}`,
    { count: problems.length },
  );
}

/** The store could not save a message (D6): it was never put on the wire. */
export function unsaved(id: string, cause: unknown): DeliveryError {
  return new DeliveryError(
    'store',
    id,
    `holdfast: message ${id} was not sent: the store could not save it (${describeError(cause)})`,
    { cause },
  );
}

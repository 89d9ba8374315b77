/**
 * The reference server's checks on the values it is handed: stream names and message ids
 * within their bounds, numeric options within theirs, and whether a hook returned a
 * promise. Shared by the hub and both wire halves, so each bound is stated once.
 */
import { describeValue, invalidArgument } from '../../adapters/describe.js';
import { isSessionId, PROTOCOL_VERSION, Query, WireLimit } from '../../adapters/protocol.js';

/** The entry point a `TypeError` from the server names. */
export const ENTRY = 'holdfast/server';

/** Stream names and message ids are 1 to this many characters. */
export const MAX_NAME_CHARS = WireLimit.nameChars;

/** The refusal of a link whose session id is not of the protocol's shape. */
export const SESSION_LIMIT = `session ids must be ${WireLimit.sessionMinChars}–${WireLimit.sessionMaxChars} characters of [A-Za-z0-9_-]`;

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

/**
 * The session a link was opened with, from the opening request's query (the WebSocket
 * upgrade URL, `GET B/events`): a v2 link (`v` an integer ≥ 2) must name a session id of
 * the protocol's shape, else the problem names the limit; any other link is v1, and an
 * app's own `session` parameter on it means nothing to the server. The last value of each
 * parameter counts: the adapter appends its own after the app's query.
 */
export function sessionOf(url: string | undefined): { session?: string } | { problem: string } {
  const at = (url ?? '').indexOf('?');
  if (at === -1) return {};
  const query = new URLSearchParams((url ?? '').slice(at + 1));
  const version = query.getAll(Query.version).at(-1);
  if (version === undefined || !/^\d{1,9}$/.test(version) || Number(version) < PROTOCOL_VERSION)
    return {};
  const session = query.getAll(Query.session).at(-1);
  if (session === undefined) return { problem: `v=${version} needs a session: ${SESSION_LIMIT}` };
  if (!isSessionId(session)) return { problem: `${SESSION_LIMIT}, got ${describeValue(session)}` };
  return { session };
}

/**
 * What is wrong with a message's serial, or undefined: absent (a v1 message, deduplicated
 * by id), or an integer ≥ 1 on a link opened with a session.
 */
export function serialProblem(serial: unknown, session: string | undefined): string | undefined {
  if (serial === undefined) return undefined;
  if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 1)
    return `a serial must be a safe integer ≥ 1, got ${describeValue(serial)}`;
  if (session === undefined)
    return 'a message with a serial needs a session: open the link with session=<id>&v=2';
  return undefined;
}

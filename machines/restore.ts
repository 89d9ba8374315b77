/**
 * What a store's `open()` read, checked (durable.md D3): the store is a peer like any
 * other — a file a crash tore, a record an older or newer holdfast wrote, a third-party
 * store with a bug. Every record that passes is kept; each one that does not is named
 * in `problems` and left out; nothing here throws.
 */
import { isSessionId } from '../adapters/protocol.js';
import type { StoredMessage } from '../adapters/store.js';
import { checkMessage, checkPosition, isCount } from '../adapters/store-records.js';
import type { StreamPosition } from '../adapters/transport.js';
import { field } from './peer-field.js';

/** A stored message that passed, with its data parsed once. */
export interface CheckedMessage extends StoredMessage {
  readonly data: unknown;
}

export interface RestoredOutbox {
  /** The session to go on with; undefined: start a new one. */
  readonly session: string | undefined;
  /** Every serial used so far is at most this (the reservation, or a higher stored serial). */
  readonly reserved: number;
  /** At most `maxQueue` messages, in serial order, unique by id and by serial. */
  readonly messages: readonly CheckedMessage[];
  /** Messages past `maxQueue`: reported, and removed from the store. */
  readonly overflow: readonly CheckedMessage[];
  /** Ids of records that were unreadable yet named an id: removed from the store. */
  readonly unreadable: readonly string[];
  readonly positions: readonly StreamPosition[];
  readonly problems: readonly string[];
}

/** Most streams restored: every resource a peer's answer can grow is bounded. */
export const MAX_RESTORED_STREAMS = 100_000;

/** Messages read past `maxQueue` (rejected as overflow); the rest stay in the store. */
const MESSAGES_OVER_LIMIT = 10_000;

function lengthOf(value: unknown): number {
  try {
    return Array.isArray(value) ? value.length : 0;
  } catch {
    return 0;
  }
}

/** Most problems listed one by one; the rest are counted. */
const PROBLEMS_LISTED = 100;

/**
 * The first `max` elements of a peer's array, or undefined when it is none or reading it
 * throws. Never more: a hostile length (a proxy, a sparse array) costs nothing.
 */
function elements(value: unknown, max: number): readonly unknown[] | undefined {
  try {
    if (!Array.isArray(value)) return undefined;
    const length = Math.min(value.length, max);
    const out: unknown[] = [];
    for (let i = 0; i < length; i++) out.push(value[i]);
    return out;
  } catch {
    return undefined;
  }
}

/** `open()`'s outbox, checked. `maxQueue` bounds what is restored (R10). */
export function checkStoredOutbox(outbox: unknown, maxQueue: number): RestoredOutbox {
  const problems: string[] = [];
  let unlisted = 0;
  const problem = (text: string) => {
    if (problems.length < PROBLEMS_LISTED) problems.push(text);
    else unlisted++;
  };
  for (const text of elements(field(outbox, 'problems'), PROBLEMS_LISTED) ?? []) {
    problem(typeof text === 'string' ? text.slice(0, 500) : 'the store reported a problem');
  }

  let session: string | undefined;
  const storedSession = field(outbox, 'session');
  if (storedSession !== undefined) {
    if (isSessionId(storedSession)) session = storedSession;
    else problem('its session is not 16–128 characters of [A-Za-z0-9_-]; a new one is used');
  }
  let reserved = field(outbox, 'reserved');
  if (!isCount(reserved, 0)) {
    // An unknown reservation could let a serial the server took be used again: a new
    // session cannot repeat one (docs/decisions.md).
    if (session !== undefined)
      problem('its serial reservation is unreadable; a new session is used');
    session = undefined;
    reserved = 0;
  }

  const messages: CheckedMessage[] = [];
  const unreadable: string[] = [];
  const ids = new Set<string>();
  const serials = new Set<number>();
  const storedMessages = field(outbox, 'messages');
  const list = elements(storedMessages, maxQueue + MESSAGES_OVER_LIMIT);
  if (list === undefined) problem('its messages are not a list');
  else if (list.length < lengthOf(storedMessages))
    problem(
      `it held more messages than can be read at once (${list.length}); the rest wait for a later start`,
    );
  for (const [index, value] of (list ?? []).entries()) {
    let checked: StoredMessage | string;
    try {
      checked = checkMessage(value, false);
    } catch {
      checked = ' could not be read';
    }
    if (typeof checked === 'string') {
      problem(`message ${index}${checked}; left out`);
      const id = field(value, 'id');
      if (typeof id === 'string' && id.length >= 1 && id.length <= 256) unreadable.push(id);
      continue;
    }
    if (ids.has(checked.id) || serials.has(checked.serial)) {
      problem(`message ${index} repeats an id or a serial of another; left out`);
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(checked.json);
    } catch {
      problem(`message ${checked.id}: its data is not JSON; left out`);
      unreadable.push(checked.id);
      continue;
    }
    ids.add(checked.id);
    serials.add(checked.serial);
    messages.push({ ...checked, data });
  }
  messages.sort((a, b) => a.serial - b.serial);
  for (const message of messages) reserved = Math.max(reserved as number, message.serial);
  const overflow = messages.splice(maxQueue);
  if (overflow.length > 0)
    problem(`it held ${overflow.length} message(s) more than maxQueue (${maxQueue})`);

  const positions: StreamPosition[] = [];
  const streams = new Set<string>();
  for (const [index, value] of (
    elements(field(outbox, 'positions'), MAX_RESTORED_STREAMS) ?? []
  ).entries()) {
    let checked: StreamPosition | string;
    try {
      checked = checkPosition(value, false);
    } catch {
      checked = ' could not be read';
    }
    if (typeof checked === 'string') problem(`position ${index}${checked}; left out`);
    else if (!streams.has(checked.stream)) {
      streams.add(checked.stream);
      positions.push(checked);
    }
  }
  if (unlisted > 0) problems.push(`${unlisted} more problem(s), not listed`);
  return {
    session,
    reserved: reserved as number,
    messages,
    overflow,
    unreadable,
    positions,
    problems,
  };
}

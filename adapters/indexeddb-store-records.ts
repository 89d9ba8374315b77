/**
 * What `indexedDbStore` reads, judged (durable.md §3: bad data is reported, never
 * crashes, never drops the records that are fine). Every record is checked field by
 * field and copied; a bad one is skipped and named in `problems`. The same checks refuse
 * a bad record before it is written.
 */
import { describeValue } from './describe.js';
import { FORMAT, type RawOutbox } from './indexeddb-store-idb.js';
import { isSessionId, WireLimit } from './protocol.js';
import type { StoredMessage, StoredOutbox } from './store.js';
import type { StreamPosition } from './transport.js';

const isText = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length >= 1 && value.length <= max;
const isCount = (value: unknown, min = 0): value is number =>
  Number.isSafeInteger(value) && (value as number) >= min;

/** A message record checked and copied, or what is wrong with it. */
export function readMessage(value: unknown): StoredMessage | string {
  if (typeof value !== 'object' || value === null) return `it is ${describeValue(value)}`;
  const { id, serial, json, retry, sent } = value as Record<string, unknown>;
  if (!isText(id, WireLimit.nameChars))
    return `its id ${describeValue(id)} is not 1–${WireLimit.nameChars} characters`;
  if (!isCount(serial, 1)) return `its serial ${describeValue(serial)} is not an integer ≥ 1`;
  if (typeof json !== 'string') return `its json is ${describeValue(json)}, not a string`;
  if (typeof retry !== 'boolean' || typeof sent !== 'boolean')
    return 'its retry or sent is not a boolean';
  return { id, serial, json, retry, sent };
}

/** A position record checked and copied, or what is wrong with it. */
export function readPosition(value: unknown): StreamPosition | string {
  if (typeof value !== 'object' || value === null) return `it is ${describeValue(value)}`;
  const { stream, seq, epoch } = value as Record<string, unknown>;
  if (!isText(stream, WireLimit.nameChars))
    return `its stream ${describeValue(stream)} is not 1–${WireLimit.nameChars} characters`;
  if (!isCount(seq)) return `its seq ${describeValue(seq)} is not an integer ≥ 0`;
  if (epoch === undefined) return { stream, seq };
  if (!isText(epoch, WireLimit.epochChars))
    return `its epoch ${describeValue(epoch)} is not 1–${WireLimit.epochChars} characters`;
  return { stream, seq, epoch };
}

/**
 * Records keyed by a name they also carry (`id`, `stream`): each read with `read`, kept
 * when it is fine and filed under its own name, else reported as `kind` and skipped.
 */
function readKeyed<T>(
  entries: RawOutbox['messages'],
  kind: string,
  read: (value: unknown) => T | string,
  nameOf: (record: T) => string,
  problems: string[],
): T[] {
  const kept: T[] = [];
  for (const [key, value] of entries) {
    const record = read(value);
    const problem =
      typeof record === 'string'
        ? record
        : nameOf(record) !== key
          ? `it is filed under another key (${describeValue(nameOf(record))})`
          : undefined;
    if (problem === undefined) kept.push(record as T);
    else problems.push(`${kind} ${describeValue(key)} was skipped: ${problem}.`);
  }
  return kept;
}

/**
 * The outbox a read found. Unknown `meta` keys are ignored (a newer format may add some);
 * a format from the future is reported and its records read as far as they are
 * understood. An unreadable reservation also drops the session: the connection then
 * starts a new session, so that no serial is used twice in the old one.
 */
export function readOutbox(raw: RawOutbox): StoredOutbox {
  const problems: string[] = [];
  const format = raw.meta.get('format') ?? FORMAT;
  if (format !== FORMAT) {
    problems.push(
      `The store is in format ${describeValue(format)}, not the format ${FORMAT} this holdfast reads (a newer one wrote it?): only the records it understands are kept.`,
    );
  }
  let session = raw.meta.get('session');
  if (session !== undefined && !isSessionId(session)) {
    problems.push(`The session ${describeValue(session)} was skipped: it is not a session id.`);
    session = undefined;
  }
  let reserved = raw.meta.get('reserved') ?? 0;
  if (!isCount(reserved)) {
    problems.push(
      `The serial reservation ${describeValue(reserved)} was skipped: it is not an integer ≥ 0${session === undefined ? '' : ', so the session is not restored either (no serial may be used twice)'}.`,
    );
    reserved = 0;
    session = undefined;
  }
  return {
    session: session as string | undefined,
    reserved: reserved as number,
    messages: readKeyed(raw.messages, 'Message', readMessage, (m) => m.id, problems),
    positions: readKeyed(raw.positions, 'Position', readPosition, (p) => p.stream, problems),
    problems,
  };
}

/** What is wrong with a batch, before anything of it is written; undefined when fine. */
export function batchProblem(batch: {
  readonly session?: unknown;
  readonly reserved?: unknown;
  readonly put?: readonly unknown[];
  readonly remove?: readonly unknown[];
  readonly positions?: readonly unknown[];
}): string | undefined {
  if (batch.session !== undefined && !isSessionId(batch.session))
    return `its session ${describeValue(batch.session)} is not a session id`;
  if (batch.reserved !== undefined && !isCount(batch.reserved))
    return `its reservation ${describeValue(batch.reserved)} is not an integer ≥ 0`;
  for (const message of batch.put ?? []) {
    const read = readMessage(message);
    if (typeof read === 'string') return `a message to put is bad: ${read}`;
  }
  for (const id of batch.remove ?? [])
    if (typeof id !== 'string') return `an id to remove is ${describeValue(id)}`;
  for (const position of batch.positions ?? []) {
    const read = readPosition(position);
    if (typeof read === 'string') return `a position is bad: ${read}`;
  }
  return undefined;
}

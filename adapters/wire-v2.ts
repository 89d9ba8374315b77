/**
 * What wire protocol v2 adds on the client's side, the same over both wires
 * (docs/protocol.md): the session and version in the query of a link's opening, the serial
 * of a message, the epoch of a position, and the checks of what only a v2 server says (the
 * welcome's `session`, the `stream` frame). A v1 server sends none of what is read here and
 * ignores the fields written here. Pure functions: no state, no I/O.
 */
import { PROTOCOL_VERSION, Query, readWelcome, WireLimit } from './protocol.js';
import type {
  LinkOptions,
  LinkWelcome,
  OutboundMessage,
  StreamHead,
  StreamPosition,
} from './transport.js';

/**
 * `url` with `session=<id>&v=2` added to its query, after the app's own and before any
 * fragment; `url` as it is when the machine gave no session (a v1 link).
 */
export function withSession(url: string, options: LinkOptions | undefined): string {
  const session = options?.session;
  if (typeof session !== 'string' || typeof url !== 'string') return url;
  const hash = url.indexOf('#');
  const head = hash === -1 ? url : url.slice(0, hash);
  const fragment = hash === -1 ? '' : url.slice(hash);
  const joiner = !head.includes('?') ? '?' : /[?&]$/.test(head) ? '' : '&';
  const params = `${Query.session}=${encodeURIComponent(session)}&${Query.version}=${PROTOCOL_VERSION}`;
  return `${head}${joiner}${params}${fragment}`;
}

/** The session a welcome reports, checked: `{ known: boolean, handled: integer ≥ 0 }`. */
type WelcomeSession = NonNullable<LinkWelcome['session']>;

/**
 * A welcome's `session`, checked: a fresh `{ known, handled }` (nothing else of the
 * server's object), or the problem named, for a protocol close. Safe on any value.
 */
function readSession(value: unknown): WelcomeSession | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'a welcome whose session is not an object';
  const { known, handled } = value as Record<string, unknown>;
  if (typeof known !== 'boolean') return 'a welcome whose session.known is not a boolean';
  if (!isCount(handled)) return 'a welcome whose session.handled is not an integer ≥ 0';
  return { known, handled };
}

/**
 * A `welcome` checked as `readWelcome` does, and its v2 `session` where present: absent
 * means a v1 server, and the welcome handed to the machine has none. A `session` that is
 * there but malformed is the problem named, for a protocol close.
 */
export function readGreeting(
  frame: Record<string, unknown>,
): { connectionId: string; welcome: LinkWelcome | undefined } | { problem: string } {
  const read = readWelcome(frame);
  if ('problem' in read || frame.session === undefined) return read;
  const session = readSession(frame.session);
  if (typeof session === 'string') return { problem: session };
  return { connectionId: read.connectionId, welcome: { ...read.welcome, session } };
}

/**
 * A `stream` frame's fields checked: `stream` a name of 1–256 characters, `epoch` a string
 * of 1–64, `head` an integer ≥ 0. A fresh `{ stream, epoch, head }`, or the problem named,
 * for a protocol close. Reads fields only: safe on any object.
 */
export function readStreamHead(frame: Record<string, unknown>): StreamHead | string {
  const { stream, epoch, head } = frame;
  if (!isText(stream, WireLimit.nameChars))
    return `a stream frame whose stream is not a name of 1–${WireLimit.nameChars} characters`;
  if (!isText(epoch, WireLimit.epochChars))
    return `a stream frame whose epoch is not a string of 1–${WireLimit.epochChars} characters`;
  if (!isCount(head)) return 'a stream frame whose head is not an integer ≥ 0';
  return { stream, epoch, head };
}

/**
 * `,"serial":N` to put in a message's frame after its id, on a link opened with a session
 * (`sessioned`): a serial counts within its session, and a v2 server refuses one on a link
 * without. Nothing on a link without a session, nor for a message without a serial that is
 * an integer ≥ 1 (a caller of the contract before v2): it goes out as in v1, and the server
 * deduplicates it by id.
 */
export function serialJson({ serial }: OutboundMessage, sessioned: boolean): string {
  return sessioned && Number.isSafeInteger(serial) && serial >= 1 ? `,"serial":${serial}` : '';
}

/** The link is opened with a session (the machine gave one): it speaks v2. */
export function hasSession(options: LinkOptions | undefined): boolean {
  return typeof options?.session === 'string';
}

/**
 * Positions as the wire carries them (a resume, a suspend): `{ stream, seq }`, with `epoch`
 * where the client has one; nothing else the caller's objects may hold.
 */
export function wirePositions(positions: readonly StreamPosition[]): StreamPosition[] {
  return positions.map(({ stream, seq, epoch }) =>
    epoch === undefined ? { stream, seq } : { stream, seq, epoch },
  );
}

/** A string of 1 to `max` characters. */
function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max;
}

/** An integer ≥ 0 that a double holds exactly. */
function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

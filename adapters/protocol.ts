/**
 * Wire protocol v2 as one table (docs/protocol.md; v2 adds sessions, serials, epochs and
 * unwatch to v1 without changing a v1 word): every word and number the two adapters
 * and the reference server (`src/server/`) put on or read from the wire. Both sides import
 * it, so a name or a code cannot drift between them. Pure data and pure functions: no
 * state, no I/O.
 */
import type { InboundFrame, LinkWelcome, OutboundMessage, SendOutcome } from './transport.js';

/**
 * The `type` of each WebSocket frame. One socket carries both directions, so the type is
 * the only thing that tells a frame's meaning.
 */
export const Frame = {
  /** S→C, first frame: the link is usable from here (not from the socket's open). */
  welcome: 'welcome',
  /** C→S: replay each stream after its position, then follow it. */
  resume: 'resume',
  /** S→C: every replay of one resume has been sent; one per resume, in order. */
  resumed: 'resumed',
  /** S→C: one application event, replayed or live. */
  event: 'event',
  /** C→S: one application message. */
  send: 'send',
  /** S→C: the server has the message (also for a duplicate id). */
  ack: 'ack',
  /** S→C: the server refused the message for good. */
  nack: 'nack',
  /** S→C: a sign of life, every `heartbeatMs`. */
  ping: 'ping',
  /** C→S: the client is going to sleep; no reply. */
  suspend: 'suspend',
  /**
   * S→C (v2): `{ stream, epoch, head }` of a stream's log, before its replay on a resume.
   * Only after `welcome`.
   */
  stream: 'stream',
  /** C→S (v2): `{ streams: [name, …] }`: stop sending these streams on this link; no reply. */
  unwatch: 'unwatch',
} as const;
export type FrameType = (typeof Frame)[keyof typeof Frame];

/**
 * The named events on the SSE event stream. Named (not the default `message`) because
 * `EventSource` dispatches by name, and comment lines never reach a listener: a heartbeat
 * has to be an event of its own.
 */
export const SseEvent = {
  /** `{ connectionId, heartbeatMs }`: the link is usable; the id goes on every POST. */
  welcome: 'welcome',
  /** `{ stream?, seq?, data }`: one application event. */
  event: 'event',
  /** `{}`: a sign of life. */
  ping: 'ping',
  /** (v2) `{ stream, epoch, head }`: as the WebSocket `stream` frame. */
  stream: 'stream',
  /**
   * `{ resumeId }`: every replay of the `POST B/resume` that carried this `resumeId` has
   * been written before it (the resume marker; the POST's `200` says `"marker": true`).
   */
  resumed: 'resumed',
} as const;
export type SseEventName = (typeof SseEvent)[keyof typeof SseEvent];

/**
 * The SSE endpoints, relative to the base URL `B`. The event stream is the server's half
 * of the link; the client's half is one POST per action, since an event stream is one-way.
 */
export const SsePath = {
  /** `GET B/events`: the event stream. */
  events: '/events',
  /** `POST B/resume`: replay (then the `resumed` event, when asked with a `resumeId`), then answer 200. */
  resume: '/resume',
  /** `POST B/send`: a batch of messages, answered with a result per message. */
  send: '/send',
  /** `POST B/suspend`: the sleep notice, answered 204. */
  suspend: '/suspend',
  /** (v2) `POST B/unwatch` `{ streams: [name, …] }`: stop sending these streams, answered 204. */
  unwatch: '/unwatch',
} as const;
/** The SSE endpoints the client POSTs to. */
export type SsePostPath =
  | typeof SsePath.resume
  | typeof SsePath.send
  | typeof SsePath.suspend
  | typeof SsePath.unwatch;

/**
 * (v2) The query parameters a client adds to the opening of a link (the WebSocket URL,
 * `GET B/events`), after the app's own query: `session=<id>&v=2`.
 */
export const Query = {
  /** The connection's session id: 16–128 characters of `[A-Za-z0-9_-]`. */
  session: 'session',
  /** The protocol version the client speaks (`PROTOCOL_VERSION`). */
  version: 'v',
} as const;

/** The wire protocol version a client that sends a session speaks. */
export const PROTOCOL_VERSION = 2;

/** (v2) Bounds both ends agree on (spec sessions.md §7). */
export const WireLimit = {
  /** A stream name or a message id: 1 to this many characters. */
  nameChars: 256,
  /** An epoch: 1 to this many characters. */
  epochChars: 64,
  /** A resume or an unwatch names at most this many streams per frame or POST. */
  streamsPerRequest: 100,
  /** A session id: this many characters at least, of `[A-Za-z0-9_-]`. */
  sessionMinChars: 16,
  /** A session id: this many characters at most, of `[A-Za-z0-9_-]`. */
  sessionMaxChars: 128,
  /** The `resumeId` of a `POST B/resume`: 1 to this many characters. */
  resumeIdChars: 64,
} as const;

/** A session id: `WireLimit.sessionMinChars`–`sessionMaxChars` characters of `[A-Za-z0-9_-]`. */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(value);
}

/**
 * Header names. The POSTs travel outside the event stream, so each must say which link it
 * belongs to. (HTTP header names are case-insensitive; Node lowercases incoming ones.)
 */
export const Header = {
  /** The `connectionId` of the link's `welcome`, on every SSE POST. */
  connectionId: 'X-Connection-ID',
} as const;

/**
 * The WebSocket close codes the protocol uses. The client reads only the fatal range
 * (`isFatalCloseCode`); the others say, for people and logs, why a socket ended.
 */
export const CloseCode = {
  /** The client closes a link it is done with. */
  normal: 1000,
  /** The client saw the server break the protocol (malformed JSON, an unexpected frame). */
  protocolError: 1002,
  /** The server got a frame it cannot use: malformed JSON, an unknown type, a bad field. */
  invalidPayload: 1007,
  /**
   * The server refused a well-formed request it will not serve: a resume naming a stream
   * the client may not watch (`canWatch`), or more streams than it allows per connection.
   */
  policyViolation: 1008,
  /** The server got a binary frame or one over its size limit. */
  tooBig: 1009,
  /**
   * The server failed: it cannot resume (there is no frame for a failed resume), or
   * handling a frame threw. The socket closes; the client reconnects.
   */
  serverError: 1011,
  /** The server is at its connection limit (`maxConnections`): try again later. */
  tryAgainLater: 1013,
  /**
   * The server refused this client's credentials (`authorize`): `LinkClose.auth`, so the
   * client tries once more with fresh credentials (`isAuthCloseCode`).
   */
  unauthorized: 4001,
  /** The server refused this client's credentials as not allowed: as `unauthorized`. */
  forbidden: 4003,
} as const;

/**
 * Close codes in this range mean "do not come back" (protocol version, …): the client
 * closes for good instead of reconnecting. A range, so a server can say why. 4001 and 4003
 * in it are credentials refused (`isAuthCloseCode`), which the adapters report as `auth`,
 * not `fatal`.
 */
export const FatalCloseCodes = { min: 4000, max: 4099 } as const;

/**
 * Close codes 4000–4099: "do not come back". The adapters test `isAuthCloseCode` first:
 * 4001 / 4003 are `auth` (one more try with fresh credentials), the rest `fatal`.
 */
export function isFatalCloseCode(code: number | undefined): boolean {
  return code !== undefined && code >= FatalCloseCodes.min && code <= FatalCloseCodes.max;
}

/** Close codes 4001 and 4003: the server refused the client's credentials (`LinkClose.auth`). */
export function isAuthCloseCode(code: number | undefined): boolean {
  return code === CloseCode.unauthorized || code === CloseCode.forbidden;
}

/**
 * The `status` of one message's result in a `200` answer to `POST B/send`. HTTP has one
 * status per request, so a batch carries a verdict per message in its body.
 */
export const ResultStatus = {
  /** The server has the message (also for a duplicate id). */
  ok: 'ok',
  /** The server refused the message for good; `error` says why. */
  rejected: 'rejected',
} as const;

/**
 * The HTTP statuses of the SSE half, with what each means to the client. HTTP has no
 * verdict per message, so the status of a send POST decides every message in it.
 */
export const HttpStatus = {
  /** Resume done; or a send batch with one result per message. */
  ok: 200,
  /** Suspend noted. */
  noContent: 204,
  /** The request is malformed (no connection id, bad body): a send is `rejected`. */
  badRequest: 400,
  /** Credentials refused, on any request: the link ends as `auth` (`isAuthStatus`). */
  unauthorized: 401,
  /** Credentials refused, on any request: the link ends as `auth` (`isAuthStatus`). */
  forbidden: 403,
  /** The server does not know this connection id: a send is `stale` (reconnect, resend). */
  notFound: 404,
  /** The request body did not arrive within the server's time limit: a send is `retry`. */
  requestTimeout: 408,
  /** The body is over the server's limit: a send is `rejected`. */
  payloadTooLarge: 413,
  /** The body is well-formed but refused: a send is `rejected`. */
  unprocessable: 422,
  /** Slow down: a send is `retry`, not before its `Retry-After` (`retryAfterMs`). */
  tooManyRequests: 429,
  /** A transient failure (as is every 5xx): a send is `retry`. */
  internalError: 500,
  /** Overloaded: a send is `retry`, not before its `Retry-After` (`retryAfterMs`). */
  serviceUnavailable: 503,
} as const;

/** A send POST refused as a request (400/413/422): the server handled none of it. */
export function isRejectedStatus(status: number): boolean {
  return (
    status === HttpStatus.badRequest ||
    status === HttpStatus.payloadTooLarge ||
    status === HttpStatus.unprocessable
  );
}

/**
 * What a send POST answered with anything but 200 makes of each message in it:
 * 404 and 401/403 `stale` (for 401/403 the adapter also ends the link as `auth`),
 * 400/413/422 `rejected` (with the server's `error`), anything else (429, 5xx, …) `retry`,
 * with `retryAfterMs` where given. `httpStatus` is always set, so the app sees the status.
 */
export function sendOutcomeOfStatus(
  status: number,
  error?: unknown,
  retryAfterMs?: number,
): SendOutcome {
  if (status === HttpStatus.notFound || isAuthStatus(status))
    return { status: 'stale', httpStatus: status };
  if (isRejectedStatus(status)) return { status: 'rejected', error, httpStatus: status };
  return {
    status: 'retry',
    error: new Error(`POST send answered HTTP ${status}`),
    httpStatus: status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

/** HTTP 401 or 403, on any request: the server refused this client's credentials (`auth`). */
export function isAuthStatus(status: number | undefined): boolean {
  return status === HttpStatus.unauthorized || status === HttpStatus.forbidden;
}

/** The longest wait a server's `Retry-After` can impose: 5 minutes; longer is cut to this. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** The statuses whose `Retry-After` the adapters read: 429 and 503. */
export function isRetryAfterStatus(status: number | undefined): boolean {
  return status === HttpStatus.tooManyRequests || status === HttpStatus.serviceUnavailable;
}

/**
 * A `Retry-After` header (delay-seconds, or an HTTP date compared with `now`) as ms to
 * wait, at most `MAX_RETRY_AFTER_MS`. Undefined when absent, unreadable or not in the
 * future. Safe on any input.
 */
export function retryAfterMs(header: unknown, now: number): number | undefined {
  if (typeof header !== 'string') return undefined;
  const text = header.trim();
  if (text === '' || text.length > 64) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!(ms > 0)) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * A `welcome`'s fields checked, the same over both wires: `connectionId` a non-empty
 * string, `heartbeatMs` absent or a positive finite number (then handed to the machine).
 * Anything else is the problem named, for a protocol close. Reads fields only: safe on
 * any object.
 */
export function readWelcome(
  frame: Record<string, unknown>,
): { connectionId: string; welcome: LinkWelcome | undefined } | { problem: string } {
  const { connectionId, heartbeatMs } = frame;
  if (typeof connectionId !== 'string' || connectionId === '')
    return { problem: 'a welcome without a connectionId string' };
  if (heartbeatMs === undefined) return { connectionId, welcome: undefined };
  if (typeof heartbeatMs !== 'number' || !Number.isFinite(heartbeatMs) || heartbeatMs <= 0)
    return { problem: 'a welcome whose heartbeatMs is not a positive number' };
  return { connectionId, welcome: { heartbeatMs } };
}

/**
 * The fields of an event frame that reach the app: `stream`, `seq` and `data`, never the
 * frame's `type` or anything else a server adds. A field the frame lacks stays absent
 * (no key holding undefined). One object per frame; values are passed as they came, the
 * machine checks them.
 */
export function eventFields(frame: {
  stream?: unknown;
  seq?: unknown;
  data?: unknown;
}): InboundFrame {
  const { stream, seq, data } = frame;
  const picked =
    stream === undefined
      ? seq === undefined
        ? { data }
        : { seq, data }
      : seq === undefined
        ? { stream, data }
        : { stream, seq, data };
  return picked as InboundFrame;
}

/**
 * A message's data as JSON for the wire: the `json` it was serialised to once, at `send()`,
 * so the adapters never serialise the app's data again. (A caller built before `json`
 * existed gets `data` serialised here; `undefined` becomes `null`.)
 */
export function dataJson({ data, json }: OutboundMessage): string {
  return typeof json === 'string' ? json : (JSON.stringify(data) ?? 'null');
}

/** A close reason may be at most 123 bytes of UTF-8 (RFC 6455 §5.5); `close()` throws past it. */
const MAX_CLOSE_REASON_BYTES = 123;

/** A close reason cut to what a WebSocket accepts, so closing never throws. */
export function closeReason(text: string): string {
  if (text.length * 3 <= MAX_CLOSE_REASON_BYTES) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = new TextEncoder().encode(char).length;
    if (bytes + size > MAX_CLOSE_REASON_BYTES - 3) return `${out}…`;
    out += char;
    bytes += size;
  }
  return out;
}

/**
 * One frame's text read as a frame: a JSON object. Anything else (not JSON, or JSON that
 * is `null`, a number, a string or an array) is the problem named, for a protocol close.
 */
export function parseFrame(
  text: string,
): { frame: Record<string, unknown> } | { problem: 'malformed JSON' | 'not a JSON object' } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'malformed JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problem: 'not a JSON object' };
  return { frame: value as Record<string, unknown> };
}

/**
 * What a frame or a POST body may hold beyond its messages' data: the frame's own fields
 * (type, id, serial, the JSON around them). A server's body limit is its data limit plus
 * this, so a message at the client's `maxMessageBytes` always fits.
 */
export const ENVELOPE_BYTES = 64 * 1024;

/**
 * Wire protocol v1 as one table (docs/protocol.md): every word and number the two adapters
 * and the reference server (`src/server/`) put on or read from the wire. Both sides import
 * it, so a name or a code cannot drift between them. Pure data and pure functions: no
 * state, no I/O.
 */
import type { InboundFrame, SendOutcome } from './transport.js';

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
} as const;
export type SseEventName = (typeof SseEvent)[keyof typeof SseEvent];

/**
 * The SSE endpoints, relative to the base URL `B`. The event stream is the server's half
 * of the link; the client's half is one POST per action, since an event stream is one-way.
 */
export const SsePath = {
  /** `GET B/events`: the event stream. */
  events: '/events',
  /** `POST B/resume`: replay, then answer 200. */
  resume: '/resume',
  /** `POST B/send`: a batch of messages, answered with a result per message. */
  send: '/send',
  /** `POST B/suspend`: the sleep notice, answered 204. */
  suspend: '/suspend',
} as const;
/** The SSE endpoints the client POSTs to. */
export type SsePostPath = typeof SsePath.resume | typeof SsePath.send | typeof SsePath.suspend;

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
  /** The server got a binary frame or one over its size limit. */
  tooBig: 1009,
  /** The server cannot resume: there is no frame for a failed resume, the socket closes. */
  serverError: 1011,
  /** The server refused this client (`authorize`): in the fatal range, so no retry. */
  unauthorized: 4001,
} as const;

/**
 * Close codes in this range mean "do not come back" (auth refused, protocol version): the
 * client closes for good instead of reconnecting. A range, so a server can say why.
 */
export const FatalCloseCodes = { min: 4000, max: 4099 } as const;

/** Close codes 4000–4099 mean "do not come back" (auth refused, protocol version). */
export function isFatalCloseCode(code: number | undefined): boolean {
  return code !== undefined && code >= FatalCloseCodes.min && code <= FatalCloseCodes.max;
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
  /** Not allowed: on the event stream, fatal (the client stops). */
  unauthorized: 401,
  /** Not allowed: on the event stream, fatal (the client stops). */
  forbidden: 403,
  /** The server does not know this connection id: a send is `stale` (reconnect, resend). */
  notFound: 404,
  /** The body is over the server's limit: a send is `rejected`. */
  payloadTooLarge: 413,
  /** The body is well-formed but refused: a send is `rejected`. */
  unprocessable: 422,
  /** Slow down: a send is `retry`. */
  tooManyRequests: 429,
  /** A transient failure (as is every 5xx): a send is `retry`. */
  internalError: 500,
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
 * 404 `stale`, 400/413/422 `rejected` (with the server's `error`), anything else (429,
 * 5xx, …) `retry`. `httpStatus` is always set, so the app sees the status.
 */
export function sendOutcomeOfStatus(status: number, error?: unknown): SendOutcome {
  if (status === HttpStatus.notFound) return { status: 'stale', httpStatus: status };
  if (isRejectedStatus(status)) return { status: 'rejected', error, httpStatus: status };
  return {
    status: 'retry',
    error: new Error(`POST send answered HTTP ${status}`),
    httpStatus: status,
  };
}

/** The event stream answered 401 or 403: the server refused this client for good. */
export function isFatalStreamStatus(status: number | undefined): boolean {
  return status === HttpStatus.unauthorized || status === HttpStatus.forbidden;
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

/**
 * What a WebSocket link reads and writes (`adapters/websocket.ts` is the link): a server's
 * text frame read and checked into what it means, an upgrade refused and a close read
 * into a `LinkClose`, and the text of each frame the client writes. Pure functions. What
 * depends on the link's state (a second welcome, an event before welcome, an ack for a
 * message not in flight) is the link's to judge.
 */
import { describeValue } from './describe.js';
import {
  dataJson,
  eventFields,
  Frame,
  isAuthCloseCode,
  isAuthStatus,
  isFatalCloseCode,
  isRetryAfterStatus,
  parseFrame,
  retryAfterMs,
} from './protocol.js';
import type {
  InboundFrame,
  LinkClose,
  LinkWelcome,
  OutboundMessage,
  StreamHead,
  StreamPosition,
} from './transport.js';
import { readGreeting, readStreamHead, serialJson, wirePositions } from './wire-v2.js';

/** A server's frame, checked: each field of the shape the protocol gives it. */
export type ServerFrame =
  | { readonly type: typeof Frame.welcome; readonly welcome: LinkWelcome | undefined }
  | { readonly type: typeof Frame.resumed }
  | { readonly type: typeof Frame.ack; readonly id: string }
  | { readonly type: typeof Frame.nack; readonly id: string; readonly error: unknown }
  | { readonly type: typeof Frame.event; readonly frame: InboundFrame }
  | { readonly type: typeof Frame.stream; readonly head: StreamHead }
  | { readonly type: typeof Frame.ping };

/** Shared: these frames carry nothing else. */
const RESUMED: ServerFrame = Object.freeze({ type: Frame.resumed });
const PING: ServerFrame = Object.freeze({ type: Frame.ping });

/**
 * One message event's data read as a server's frame; or the problem named, for a protocol
 * close (1002): a binary frame, text that is not a JSON object, an unknown type, a field
 * not of its shape. Safe on any input. A nack's `error` is kept as it came, whatever its
 * type; an event's `stream` and `seq` are handed on as they came (the machine checks them).
 */
export function readServerFrame(data: unknown): ServerFrame | string {
  if (typeof data !== 'string') return 'a binary frame from the server';
  const read = parseFrame(data);
  if ('problem' in read) return `${read.problem} from the server`;
  const { frame } = read;
  switch (frame.type) {
    case Frame.welcome: {
      const greeting = readGreeting(frame);
      if ('problem' in greeting) return greeting.problem;
      return { type: Frame.welcome, welcome: greeting.welcome };
    }
    case Frame.resumed:
      return RESUMED;
    case Frame.ack:
    case Frame.nack: {
      const { id } = frame;
      if (typeof id !== 'string') return `${frame.type} without a string id`;
      return frame.type === Frame.ack
        ? { type: Frame.ack, id }
        : { type: Frame.nack, id, error: frame.error };
    }
    case Frame.event:
      // Only stream, seq and data reach the app: never the frame's type or extra fields.
      return { type: Frame.event, frame: eventFields(frame) };
    case Frame.stream: {
      const head = readStreamHead(frame);
      return typeof head === 'string' ? head : { type: Frame.stream, head };
    }
    case Frame.ping:
      return PING;
    default:
      return `unknown frame type ${describeValue(frame.type)}`;
  }
}

/**
 * A `send` frame built around the data's JSON (`dataJson`), so the data is not serialised
 * again: `{"type":"send","id":…,"serial":N,"data":…}` (the serial only on a link opened
 * with a session, `sessioned`, and for a message that has one: `serialJson`).
 */
export function sendFrame(message: OutboundMessage, sessioned: boolean): string {
  return `{"type":"${Frame.send}","id":${JSON.stringify(message.id)}${serialJson(message, sessioned)},"data":${dataJson(message)}}`;
}

/** A `resume` or `suspend` frame: the positions with their epochs where known. */
export function positionsFrame(
  type: typeof Frame.resume | typeof Frame.suspend,
  positions: readonly StreamPosition[],
): string {
  return JSON.stringify({ type, streams: wirePositions(positions) });
}

/** An `unwatch` frame (v2): `{"type":"unwatch","streams":[…]}`. */
export function unwatchFrame(streams: readonly string[]): string {
  return JSON.stringify({ type: Frame.unwatch, streams });
}

/** What the `ws` package reports of an upgrade the server answered with another status. */
export interface UpgradeRefusal {
  readonly status: number;
  readonly retryAfterMs: number | undefined;
}

/** The HTTP status and `Retry-After` of an upgrade response, read defensively. */
export function readUpgradeResponse(response: unknown): UpgradeRefusal | undefined {
  const { statusCode, headers } = (response ?? {}) as { statusCode?: unknown; headers?: unknown };
  if (typeof statusCode !== 'number') return undefined;
  const header = (headers as Record<string, unknown> | null | undefined)?.['retry-after'];
  return {
    status: statusCode,
    retryAfterMs: isRetryAfterStatus(statusCode) ? retryAfterMs(header, Date.now()) : undefined,
  };
}

/**
 * Why a socket closed, as the link reports it: an upgrade refused with a status (`ws`
 * only; 401/403 `auth`), a close 4001/4003 (`auth`), 4000–4099 (`fatal`), or any other
 * close, with the socket's last error where there was one. Safe on any event.
 */
export function readClose(
  { code, reason }: { code?: unknown; reason?: unknown },
  refusal: UpgradeRefusal | undefined,
  lastError: unknown,
): LinkClose {
  if (refusal !== undefined) {
    // The server answered the upgrade with a status, not a socket (`ws` only).
    const { status, retryAfterMs } = refusal;
    return {
      httpStatus: status,
      reason: `the WebSocket upgrade was answered HTTP ${status}`,
      ...(isAuthStatus(status) ? { auth: true } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  const closeCode = typeof code === 'number' ? code : undefined;
  const text = typeof reason === 'string' ? reason : undefined;
  const error = lastError === undefined ? {} : { error: lastError };
  if (isAuthCloseCode(closeCode)) return { code: closeCode, reason: text, auth: true };
  return { code: closeCode, reason: text, fatal: isFatalCloseCode(closeCode), ...error };
}

/**
 * What the WebSocket adapter tests share: a fake socket, message builders, the open() harness,
 * the welcome and the session constants.
 */

import type { LinkEvents, LinkOptions, OutboundMessage } from '../../adapters/transport.js';
import { type WebSocketConstructorLike, webSocketTransport } from '../../adapters/websocket.js';
import { recordingEvents } from './link-recorder.js';

export type Listener = (event: never) => void;

/**
 * A message as the machine hands it over: `json` is the data serialised once, at send();
 * `serial` its place in the app's sends (1 unless the test needs others).
 */
export const message = (id: string, data: unknown, serial = 1): OutboundMessage => ({
  id,
  serial,
  data,
  json: JSON.stringify(data),
  retry: true,
});

export class FakeSocket {
  static last: FakeSocket | undefined;
  readyState = 1;
  readonly sent: unknown[] = [];
  /** The text of every frame written, as it went on the wire. */
  readonly raw: string[] = [];
  readonly listeners = new Map<string, Listener>();
  closedWith: number | undefined;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  send(data: string) {
    this.raw.push(data);
    this.sent.push(JSON.parse(data));
  }
  close(code?: number) {
    this.closedWith = code;
  }
  addEventListener(type: string, listener: Listener) {
    this.listeners.set(type, listener);
  }
  receive(frame: object | string) {
    this.receiveData(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }
  /** Deliver a message event whose data is anything (a Buffer, as `ws` gives a binary frame). */
  receiveData(data: unknown) {
    (this.listeners.get('message') as (e: { data: unknown }) => void)({ data });
  }
  serverClose(code: number, reason = '') {
    (this.listeners.get('close') as (e: { code: number; reason: string }) => void)({
      code,
      reason,
    });
  }
}

export function open(
  url: string | (() => Promise<string>) = 'ws://x',
  overrides: Partial<LinkEvents> = {},
  WebSocket: WebSocketConstructorLike = FakeSocket,
  linkOptions?: LinkOptions,
) {
  const { events, seen, frames, heads, closes, welcomes } = recordingEvents(overrides, {
    message: (f) => `message ${JSON.stringify(f)}`,
    stream: (head) => `stream ${JSON.stringify(head)}`,
  });
  const link = webSocketTransport({ url, WebSocket }).connect(events, linkOptions);
  return {
    link,
    seen,
    frames,
    heads,
    closes,
    welcomes,
    socket: () => FakeSocket.last as FakeSocket,
  };
}

/** A JSON text nested `depth` levels deep: `[[[…]]]`. */
export const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
export const WELCOME = { type: 'welcome', connectionId: 'c', heartbeatMs: 10 };
/** Link options as the machine gives them: the connection's session. */
export const SESSION: LinkOptions = { session: 'S3ss10n-id_0123456789' };
export const SESSION_QUERY = 'session=S3ss10n-id_0123456789&v=2';

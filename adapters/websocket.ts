/**
 * `holdfast/websocket`: wire protocol v1 over one WebSocket (docs/protocol.md). Moves
 * bytes only: no queue, no retry, no timer. The link is open on the server's `welcome`,
 * not on the socket's open; sends are pipelined and confirmed by `ack` / `nack`.
 */
import { describeValue, invalidArgument, missingGlobal } from './describe.js';
import {
  CloseCode,
  closeReason,
  eventFields,
  Frame,
  isFatalCloseCode,
  parseFrame,
} from './protocol.js';
import type {
  Link,
  LinkClose,
  LinkEvents,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
  Transport,
} from './transport.js';

/** The part of a WebSocket this adapter uses (browsers' and the `ws` package's both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { code?: number; reason?: string }) => void,
  ): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

export type WebSocketConstructorLike = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

export interface WebSocketTransportOptions {
  /**
   * The endpoint, or a function (sync or async) called on every attempt, so a token in
   * the query string can be refreshed.
   */
  url: string | (() => string | Promise<string>);
  /** @default globalThis.WebSocket (Node ≥ 22, browsers); on Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructorLike;
  /** Subprotocols, passed to the constructor. */
  protocols?: string | string[];
  /** Sends unconfirmed at once on one socket. @default 64 */
  maxInFlight?: number;
}

const OPEN = 1;

/** Shared: an ack carries nothing else, and one object per message adds up. */
const CONFIRMED: SendOutcome = Object.freeze({ status: 'ok' });

interface PendingAck {
  readonly id: string;
  readonly resolve: (outcome: SendOutcome) => void;
}

// Public API of `holdfast/websocket`; the range itself lives in the wire table.
export { isFatalCloseCode };

export function webSocketTransport(options: WebSocketTransportOptions): Transport {
  const Ctor =
    options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
  if (typeof Ctor !== 'function') {
    throw missingGlobal(
      'holdfast/websocket',
      'WebSocket (Node < 22)',
      'pass the WebSocket option, e.g. WebSocket from the ws package',
    );
  }
  const { url, protocols } = options;
  if (typeof url !== 'string' && typeof url !== 'function') {
    throw invalidArgument(
      'url',
      'a string or a function that returns one',
      url,
      'holdfast/websocket',
    );
  }
  return {
    maxInFlight: options.maxInFlight ?? 64,
    connect: (events) => openLink(Ctor, url, protocols, events),
  };
}

function openLink(
  Ctor: WebSocketConstructorLike,
  url: WebSocketTransportOptions['url'],
  protocols: string | string[] | undefined,
  events: LinkEvents,
): Link {
  let socket: WebSocketLike | undefined;
  let greeted = false;
  let done = false;
  // Unconfirmed sends in send order. The server acks in handling order, which is send
  // order, so the match is at the head: O(1) per ack, and no hashing of ids.
  let acks: Array<PendingAck | undefined> = [];
  let ackHead = 0;
  const resumes: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  /** The link is over: unconfirmed sends are stale, resumes fail, then (maybe) report. */
  const finish = (info: LinkClose | undefined) => {
    if (done) return;
    done = true;
    const unconfirmed = acks;
    acks = [];
    for (let i = ackHead; i < unconfirmed.length; i++) unconfirmed[i]?.resolve({ status: 'stale' });
    ackHead = 0;
    for (const r of resumes.splice(0)) r.reject(new Error('the WebSocket closed before resumed'));
    if (info) events.close(info);
  };
  const protocolError = (reason: string) => {
    try {
      socket?.close(CloseCode.protocolError, closeReason(reason));
    } catch {
      // A runtime that still refuses the close: the link is over all the same.
    }
    finish({ code: CloseCode.protocolError, reason, protocol: true });
  };
  const write = (frame: object) => socket?.send(JSON.stringify(frame));
  const takeAck = (id: string) => {
    let at = ackHead;
    while (at < acks.length && acks[at]?.id !== id) at++;
    const pending = acks[at];
    if (pending === undefined) return undefined;
    if (at > ackHead) acks.splice(at, 1);
    else acks[ackHead++] = undefined;
    // Drop the settled head now and then, so a link that is never idle stays small.
    if (ackHead === acks.length || ackHead >= 1024) {
      acks = acks.slice(ackHead);
      ackHead = 0;
    }
    return pending.resolve;
  };

  const onMessage = ({ data }: { data: unknown }) => {
    if (done) return;
    const read = parseFrame(String(data));
    if ('problem' in read) return protocolError(`${read.problem} from the server`);
    const frame = read.frame as {
      type?: unknown;
      id?: unknown;
      error?: unknown;
      stream?: unknown;
      seq?: unknown;
      data?: unknown;
    };
    switch (frame.type) {
      case Frame.welcome:
        if (greeted) return protocolError('a second welcome');
        greeted = true;
        return events.open();
      case Frame.resumed: {
        const resume = resumes.shift();
        if (!resume) return protocolError('resumed without a resume');
        return resume.resolve();
      }
      case Frame.ack:
      case Frame.nack: {
        if (typeof frame.id !== 'string') return protocolError(`${frame.type} without a string id`);
        const resolve = takeAck(frame.id);
        if (!resolve) return protocolError(`${frame.type} for a message not in flight`);
        return resolve(
          frame.type === Frame.ack ? CONFIRMED : { status: 'rejected', error: frame.error },
        );
      }
      case Frame.event:
        if (!greeted) return protocolError('an event before welcome');
        // Only stream, seq and data reach the app: never the frame's type or extra fields.
        return events.message(eventFields(frame));
      case Frame.ping:
        return events.alive();
      default:
        return protocolError(`unknown frame type ${describeValue(frame.type)}`);
    }
  };

  const start = (address: string) => {
    if (done) return;
    try {
      socket = new Ctor(address, protocols);
    } catch (error) {
      return finish({ error, reason: 'the WebSocket constructor threw' });
    }
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', ({ code, reason }) =>
      finish({ code, reason, fatal: isFatalCloseCode(code) }),
    );
    // A close event follows every error; the link reports once, from there. The listener
    // also keeps runtimes that throw on an unheard 'error' (ws) from throwing.
    socket.addEventListener('error', () => {});
  };
  try {
    const address = typeof url === 'function' ? url() : url;
    if (typeof address === 'string') start(address);
    else
      Promise.resolve(address).then(start, (error: unknown) =>
        finish({ error, reason: 'the url function failed' }),
      );
  } catch (error) {
    queueMicrotask(() => finish({ error, reason: 'the url function failed' }));
  }

  return {
    resume(positions: readonly StreamPosition[]) {
      if (done || !greeted || socket?.readyState !== OPEN) {
        return Promise.reject(new Error('the WebSocket is not open'));
      }
      return new Promise<void>((resolve, reject) => {
        resumes.push({ resolve, reject });
        write({ type: Frame.resume, streams: positions });
      });
    },
    send(message: OutboundMessage) {
      if (done || !greeted || socket?.readyState !== OPEN)
        return Promise.resolve({ status: 'stale' });
      return new Promise<SendOutcome>((resolve) => {
        try {
          write({ type: Frame.send, id: message.id, data: message.data });
        } catch (error) {
          return resolve({ status: 'retry', error });
        }
        acks.push({ id: message.id, resolve });
      });
    },
    suspend(positions: readonly StreamPosition[]) {
      if (!done && greeted && socket?.readyState === OPEN)
        write({ type: Frame.suspend, streams: positions });
    },
    close() {
      const open = socket;
      finish(undefined);
      try {
        open?.close(CloseCode.normal, 'closed by the client');
      } catch {
        // Closing a socket that never opened may throw in some runtimes; it is gone either way.
      }
    },
  };
}

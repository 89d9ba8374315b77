/**
 * `holdfast/websocket`: wire protocol v2 over one WebSocket (docs/protocol.md), and v1
 * with a server that speaks only v1. Moves bytes only: no queue, no retry, no timer. The
 * link is open on the server's `welcome`, not on the socket's open; sends are pipelined
 * and confirmed by `ack` / `nack`. With a session (`LinkOptions`), the URL's query gains
 * `session=<id>&v=2`; a v1 server's welcome has no `session`, and the link then sends it
 * nothing v1 does not know (no `unwatch`).
 *
 * Nothing a server sends can throw out of a socket listener: a frame not of the
 * protocol's shape, and as a last line any exception while handling one, is a `protocol`
 * close of the link (1002). Frames are read and written in `adapters/websocket-frames.ts`.
 */
import { guardListener, invalidArgument, missingGlobal } from './describe.js';
import { CloseCode, closeReason, Frame, isFatalCloseCode } from './protocol.js';
import type {
  Link,
  LinkClose,
  LinkEvents,
  LinkOptions,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
  Transport,
} from './transport.js';
import { tickCorker } from './websocket-cork.js';
import {
  positionsFrame,
  readClose,
  readServerFrame,
  readUpgradeResponse,
  sendFrame,
  type UpgradeRefusal,
  unwatchFrame,
} from './websocket-frames.js';
import { hasSession, withSession } from './wire-v2.js';

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

/**
 * What a constructor takes as its third argument, where it takes one: Node's `ws` reads
 * `maxPayload`, `perMessageDeflate`, `headers`, `handshakeTimeout`, …; browsers ignore it.
 */
export type WebSocketSocketOptions = object;

export type WebSocketConstructorLike = new (
  url: string,
  protocols?: string | string[],
  options?: WebSocketSocketOptions,
) => WebSocketLike;

/** The largest inbound frame the `ws` package accepts by default here: 16 MiB (`ws`'s own is 100 MiB). */
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

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
  /**
   * Passed to the constructor as its third argument: for Node's `ws`, e.g.
   * `{ maxPayload, perMessageDeflate, headers }`. With a `WebSocket` option (on Node, `ws`)
   * the adapter passes `{ maxPayload: 16 MiB, ...socketOptions }`, so an inbound frame over
   * 16 MiB ends the link (`ws` closes the socket with 1009; the link's close carries `ws`'s
   * RangeError as `error`) instead of being buffered up to `ws`'s own default of 100 MiB;
   * set `maxPayload` to change it. With the global WebSocket (browsers, Node ≥ 22) it is
   * passed only when set: those constructors ignore it and have no inbound limit to set.
   * @default { maxPayload: 16 MiB } with a `WebSocket` option; nothing with the global
   */
  socketOptions?: WebSocketSocketOptions;
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
  const { url, protocols, socketOptions } = options;
  if (typeof url !== 'string' && typeof url !== 'function') {
    throw invalidArgument(
      'url',
      'a string or a function that returns one',
      url,
      'holdfast/websocket',
    );
  }
  if (socketOptions !== undefined && (typeof socketOptions !== 'object' || socketOptions === null))
    throw invalidArgument('socketOptions', 'an object', socketOptions, 'holdfast/websocket');
  const constructorOptions =
    options.WebSocket !== undefined
      ? { maxPayload: DEFAULT_MAX_PAYLOAD, ...socketOptions }
      : socketOptions;
  return {
    maxInFlight: options.maxInFlight ?? 64,
    connect: (events, linkOptions) =>
      openLink(Ctor, url, protocols, constructorOptions, events, linkOptions),
  };
}

function openLink(
  Ctor: WebSocketConstructorLike,
  url: WebSocketTransportOptions['url'],
  protocols: string | string[] | undefined,
  socketOptions: WebSocketSocketOptions | undefined,
  events: LinkEvents,
  linkOptions: LinkOptions | undefined,
): Link {
  let socket: WebSocketLike | undefined;
  /** Opened with a session: messages carry their serials. */
  const sessioned = hasSession(linkOptions);
  let greeted = false;
  /** The welcome carried a `session`: the server speaks v2 (and knows `unwatch`). */
  let v2 = false;
  let done = false;
  // Unconfirmed sends in send order. The server acks in handling order, which is send
  // order, so the match is at the head: O(1) per ack, and no hashing of ids.
  let acks: Array<PendingAck | undefined> = [];
  let ackHead = 0;
  const resumes: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  /**
   * Once a write failed, nothing more goes on this socket: a later message must not
   * overtake the one that failed (R1 over the wire). Every later send answers this.
   */
  let writeFailed: SendOutcome | undefined;
  /** The server answered the upgrade with another status (`ws` tells, browsers do not). */
  let refusal: UpgradeRefusal | undefined;
  /** The socket's last error (e.g. `ws`'s frame over `maxPayload`), kept for the close. */
  let lastError: unknown;

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
  const protocolError = (reason: string, error?: unknown) => {
    try {
      socket?.close(CloseCode.protocolError, closeReason(reason));
    } catch {
      // A runtime that still refuses the close: the link is over all the same.
    }
    finish({
      code: CloseCode.protocolError,
      reason,
      protocol: true,
      ...(error === undefined ? {} : { error }),
    });
  };
  /**
   * A socket listener's body, run so that nothing escapes into the socket's event loop:
   * an exception (a bug, or a value no check foresaw) ends the link as a protocol error.
   */
  const guarded = <A extends unknown[]>(what: string, body: (...args: A) => void) =>
    guardListener(what, body, protocolError);
  const write = (text: string) => socket?.send(text);
  // With `ws` (Node), a tick's sends leave in one write to the kernel (websocket-cork.ts).
  const corker = tickCorker();
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
    const frame = readServerFrame(data);
    if (typeof frame === 'string') return protocolError(frame);
    switch (frame.type) {
      case Frame.welcome:
        if (greeted) return protocolError('a second welcome');
        greeted = true;
        v2 = frame.welcome?.session !== undefined;
        return frame.welcome ? events.open(frame.welcome) : events.open();
      case Frame.resumed: {
        const resume = resumes.shift();
        if (!resume) return protocolError('resumed without a resume');
        return resume.resolve();
      }
      case Frame.ack:
      case Frame.nack: {
        const resolve = takeAck(frame.id);
        if (!resolve) return protocolError(`${frame.type} for a message not in flight`);
        // A nack's error is kept as it came, whatever its type, as the rejection's cause.
        return resolve(
          frame.type === Frame.ack ? CONFIRMED : { status: 'rejected', error: frame.error },
        );
      }
      case Frame.event:
        if (!greeted) return protocolError('an event before welcome');
        return events.message(frame.frame);
      case Frame.stream:
        if (!greeted) return protocolError('a stream frame before welcome');
        return events.stream(frame.head);
      case Frame.ping:
        return events.alive();
    }
  };

  const onClose = (event: { code?: unknown; reason?: unknown }) =>
    finish(readClose(event, refusal, lastError));

  const start = (given: string) => {
    if (done) return;
    try {
      const address = withSession(given, linkOptions);
      socket =
        socketOptions === undefined
          ? new Ctor(address, protocols)
          : new Ctor(address, protocols, socketOptions);
    } catch (error) {
      return finish({ error, reason: 'the WebSocket constructor threw' });
    }
    try {
      socket.addEventListener('message', guarded('handling a frame', onMessage));
      socket.addEventListener('close', guarded('handling the close', onClose));
      // A close event follows every error; the link reports once, from there. The listener
      // also keeps runtimes that throw on an unheard 'error' (ws) from throwing.
      socket.addEventListener(
        'error',
        guarded('handling an error', (event: unknown) => {
          const error = (event as { error?: unknown } | null | undefined)?.error;
          lastError = error ?? event;
        }),
      );
      // Node's `ws` tells the status of a refused upgrade (401, 429, …) and its headers;
      // browsers report only a close 1006, with nothing to tell a refusal from a network
      // error. Listening means aborting the handshake here, which `close()` does.
      const on = (socket as { on?: unknown }).on;
      if (typeof on === 'function') {
        on.call(
          socket,
          'unexpected-response',
          guarded('handling the upgrade response', (_request: unknown, response?: unknown) => {
            refusal = readUpgradeResponse(response);
            socket?.close();
          }) as (...args: unknown[]) => void,
        );
      }
    } catch (error) {
      protocolError('the WebSocket refused a listener', error);
    }
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
      if (writeFailed) return Promise.reject(new Error('a write on this WebSocket failed'));
      return new Promise<void>((resolve, reject) => {
        // Written first: a resume that never left must not wait for a `resumed`.
        write(positionsFrame(Frame.resume, positions));
        resumes.push({ resolve, reject });
      });
    },
    send(message: OutboundMessage) {
      if (done || !greeted || socket?.readyState !== OPEN)
        return Promise.resolve({ status: 'stale' });
      if (writeFailed) return Promise.resolve(writeFailed);
      return new Promise<SendOutcome>((resolve) => {
        try {
          corker.cork(socket);
          write(sendFrame(message, sessioned));
        } catch (error) {
          writeFailed = { status: 'retry', error };
          return resolve(writeFailed);
        }
        acks.push({ id: message.id, resolve });
      });
    },
    suspend(positions: readonly StreamPosition[]) {
      if (done || !greeted || writeFailed || socket?.readyState !== OPEN) return;
      try {
        write(positionsFrame(Frame.suspend, positions));
      } catch {
        // Fire-and-forget: a notice that did not leave is not retried.
      }
    },
    unwatch(streams: readonly string[]) {
      // A v1 server closes on a frame it does not know: it is told nothing (the machine
      // stops delivering the streams all the same).
      if (!v2 || streams.length === 0) return;
      if (done || writeFailed || socket?.readyState !== OPEN) return;
      try {
        write(unwatchFrame(streams));
      } catch {
        // Fire-and-forget, as suspend.
      }
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

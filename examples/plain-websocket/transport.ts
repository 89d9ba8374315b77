/**
 * A holdfast transport for a plain JSON WebSocket server (`server.ts`): the app's JSON goes
 * up as it is, the server's JSON frames come down as they are, and nothing on the wire
 * says "I have it". So the transport declares `delivery: 'written'`: its `ok` only means
 * the frame left, and the connection tells the app so (docs/transports.md, "A wire without
 * acks"). Like every transport it keeps no queue, retries nothing and runs no timer.
 */
import type {
  Link,
  LinkClose,
  LinkEvents,
  OutboundMessage,
  SendOutcome,
  Transport,
} from '../../src/index.js';
import { OPEN, type WebSocketConstructorLike, type WebSocketLike } from './web.js';

export interface PlainWebSocketTransportOptions {
  /** The server's `ws://` or `wss://` URL. */
  url: string;
  /** Browsers: `WebSocket`; Node 20: the `ws` package's. */
  WebSocket: WebSocketConstructorLike;
}

/**
 * The close code the client sends when the server broke the wire (a frame that is not
 * JSON). Not 1002: a browser's `close()` throws on any code but 1000 and 3000–4999.
 */
export const PROTOCOL_ERROR_CLOSE = 4400;

export function plainWebSocketTransport(options: PlainWebSocketTransportOptions): Transport {
  return {
    // No acks: an `ok` from send() says written, never received.
    delivery: 'written',
    // One socket is one ordered stream, so sends can be pipelined without reordering, and a
    // failed write fails every write after it. With `ws` an `ok` waits for the frame to reach
    // the OS: a window of 1 would hold each message back until the previous one got there.
    // 64 bounds what waits in the socket's buffer at once, as `holdfast/websocket` does.
    maxInFlight: 64,
    connect: (events) => openLink(options, events),
  };
}

const WRITTEN: SendOutcome = Object.freeze({ status: 'ok' });
const NOT_OPEN: SendOutcome = Object.freeze({
  status: 'retry',
  error: new Error('the WebSocket is not open'),
});

function openLink({ url, WebSocket }: PlainWebSocketTransportOptions, events: LinkEvents): Link {
  let socket: WebSocketLike | undefined;
  let opened = false;
  let done = false;
  /** The socket's last error, kept for the close that follows it. */
  let lastError: unknown;
  /**
   * Once a write failed, nothing more goes on this socket: a later message must not reach
   * the server ahead of the one that failed, which the machine resends on the next link.
   */
  let writeFailed: SendOutcome | undefined;

  /** The link is over: nothing is reported after this, and at most one `close`. */
  const end = (info?: LinkClose) => {
    if (done) return;
    done = true;
    if (info) events.close(info);
  };
  const protocolError = (reason: string, error?: unknown) => {
    try {
      socket?.close(PROTOCOL_ERROR_CLOSE, reason);
    } catch {
      // Closing a socket that is already going may throw in some runtimes; it is gone.
    }
    end({ protocol: true, reason, ...(error === undefined ? {} : { error }) });
  };
  const failWrite = (error: unknown): SendOutcome => {
    writeFailed ??= { status: 'retry', error };
    return writeFailed;
  };

  try {
    socket = new WebSocket(url);
  } catch (error) {
    // connect() never throws: a failure to connect is a close, after connect() returned.
    queueMicrotask(() => end({ reason: 'the WebSocket constructor threw', error }));
  }
  // The `ws` package's send takes a callback; the DOM's does not (web.ts).
  const hasWriteCallback = typeof socket?.on === 'function';

  // No welcome on this wire: the socket's open is the only greeting there is. The server
  // announces no heartbeat either; the machine's `heartbeatTimeoutMs` applies as it is.
  socket?.addEventListener('open', () => {
    if (done) return;
    opened = true;
    events.open();
  });
  socket?.addEventListener('message', ({ data }) => {
    if (done) return;
    // Nothing the server sends may throw into the socket: what cannot be read ends the link.
    if (typeof data !== 'string') return protocolError('a binary frame on a JSON wire');
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch (error) {
      return protocolError('a frame that is not JSON', error);
    }
    // No stream and no seq: this server keeps no log, so there is no position to move.
    events.message({ data: parsed });
  });
  // A close event follows every error; the link reports once, from there. Listening also
  // keeps `ws` from throwing an 'error' nobody hears.
  socket?.addEventListener('error', (event) => {
    lastError = (event as { error?: unknown } | null)?.error ?? event;
  });
  socket?.addEventListener('close', ({ code, reason }) =>
    end({
      ...(code === undefined ? {} : { code }),
      ...(reason ? { reason } : {}),
      ...(lastError === undefined ? {} : { error: lastError }),
    }),
  );
  // A `ws` server's pings (the `ws` README's keep-alive) are signs of life the page never
  // sees: `ws` answers them, and tells us. In a browser an idle link is silent.
  socket?.on?.('ping', () => {
    if (!done) events.alive();
  });

  return {
    // This wire has no streams and no log, so there is nothing to resume: a `watch()` is
    // only remembered, never replayed, and what the server pushed while no link was open is
    // gone. The machine calls this only when the app watches a stream; it resolves at once
    // so the link goes on to send.
    resume: async () => {},
    send(message: OutboundMessage): Promise<SendOutcome> {
      const current = socket;
      if (done || !opened || current?.readyState !== OPEN) return Promise.resolve(NOT_OPEN);
      if (writeFailed) return Promise.resolve(writeFailed);
      // `json` is the app's data serialised once, at send(): it goes on the wire as it is,
      // with no id, so this server could not tell a resend from a new message. None comes:
      // the machine never resends a message once it was written.
      if (!hasWriteCallback) {
        // A browser: send() queued the frame and will say nothing more. That is all
        // "written" can mean here.
        try {
          current.send(message.json);
          return Promise.resolve(WRITTEN);
        } catch (error) {
          return Promise.resolve(failWrite(error));
        }
      }
      return new Promise<SendOutcome>((resolve) => {
        try {
          // `ws`: the callback comes once the frame reached the OS, or with the error that
          // kept it from getting there (the socket closed under it). A callback that never
          // comes is the machine's ack timeout.
          current.send(message.json, (error) => resolve(error ? failWrite(error) : WRITTEN));
        } catch (error) {
          resolve(failWrite(error));
        }
      });
    },
    close() {
      const open = socket;
      end();
      try {
        open?.close(1000, 'closed by the client');
      } catch {
        // Closing a socket that never opened may throw in some runtimes; it is gone either way.
      }
    },
  };
}

/**
 * A plain JSON WebSocket server, the kind holdfast meets in the wild: it takes whatever
 * JSON the client sends and pushes JSON frames to every client. No acks, no ids, no
 * greeting, no log to replay: nothing of holdfast's protocol. The faults are a network's,
 * for the tests to play.
 */
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface PlainServerOptions {
  /**
   * Ping every client this often, as the `ws` README's keep-alive recipe does; 0: never.
   * @default 0
   */
  pingMs?: number;
}

/** One message as the server got it, and on which socket (1 = the first one opened). */
export interface Received {
  readonly link: number;
  readonly data: unknown;
}

export function createPlainServer(options: PlainServerOptions = {}) {
  const { pingMs = 0 } = options;
  const sockets = new Set<WebSocket>();
  let blackholed = false;

  /** What the server saw, for the tests. */
  const seen = {
    /** Sockets opened so far; each message names its socket by this count. */
    links: 0,
    /** Messages handled, in the order they arrived. */
    received: [] as Received[],
    /** Messages that arrived while blackholed: read and thrown away, never handled. */
    discarded: [] as Received[],
    /** Each socket's close, with the code the client sent (1006: none, it just went). */
    closed: [] as Array<{ link: number; code: number; reason: string }>,
    pings: 0,
  };

  function accept(socket: WebSocket) {
    const link = ++seen.links;
    sockets.add(socket);
    const ping =
      pingMs > 0
        ? setInterval(() => {
            seen.pings++;
            socket.ping();
          }, pingMs)
        : undefined;
    socket.on('message', (raw, isBinary) => {
      let data: unknown;
      try {
        if (isBinary) throw new Error('a binary frame');
        data = JSON.parse(String(raw));
      } catch {
        return socket.close(1007, 'JSON text only');
      }
      (blackholed ? seen.discarded : seen.received).push({ link, data });
    });
    socket.on('close', (code, reason) => {
      clearInterval(ping);
      sockets.delete(socket);
      seen.closed.push({ link, code, reason: String(reason) });
    });
    // A socket error is followed by its close; without a listener `ws` would throw it.
    socket.on('error', () => {});
  }

  /** One text frame to every open socket. */
  const broadcast = (text: string) => {
    for (const socket of sockets) if (socket.readyState === socket.OPEN) socket.send(text);
  };

  return {
    seen,
    /** Push `data`, as JSON, to every client. */
    push: (data: unknown) => broadcast(JSON.stringify(data)),
    faults: {
      /** Cut every socket without a close frame: the client sees 1006, as on a network loss. */
      dropAll: () => {
        for (const socket of sockets) socket.terminate();
      },
      /**
       * While on, every message that arrives is read and thrown away, as on a link that
       * died one way or a server that lost it: the client's writes all succeed all the same.
       */
      blackhole: (on: boolean) => {
        blackholed = on;
      },
      /** Send `text` as it is, to every client: a frame that need not be JSON. */
      pushRaw: (text: string) => broadcast(text),
    },
    /** Listen on 127.0.0.1, a free port. */
    async listen() {
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      server.on('connection', accept);
      await new Promise<void>((resolve) => server.once('listening', resolve));
      const { port } = server.address() as AddressInfo;
      return {
        url: `ws://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((resolve) => {
            // `close()` stops accepting; the sockets already open go with `terminate()`.
            for (const socket of sockets) socket.terminate();
            server.close(() => resolve());
          }),
      };
    },
  };
}

export type PlainServer = ReturnType<typeof createPlainServer>;

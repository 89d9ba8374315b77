/**
 * 8. Confirmed delivery against the baseline users would pick instead (issue 12):
 * socket.io-client's `emit` with an ack against a socket.io server, beside holdfast over
 * WebSocket against the reference server with its default settings (protocol v2
 * sessions), the same 100-byte object, a window of 64, in the same process and run.
 *
 * Two patterns, each timed from the first send to the last confirmation:
 * - app-paced: the app keeps 64 sends unconfirmed and starts a new one as each is
 *   confirmed (holdfast: the send's promise settles; socket.io: the ack callback runs);
 * - burst: the app sends all N at once. holdfast's outbox queues them and keeps 64 in
 *   flight; socket.io has no window, so its sends go through `windowedEmitter` below, a
 *   queue that does the same (at most 64 emitted and unacknowledged).
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Server as SocketIoServer } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { type Connection, createConnection } from '../dist/index.js';
import { createServer } from '../dist/server.js';
import { webSocketTransport } from '../dist/websocket.js';
import { median, untilOpen } from './figures.js';

/** The event name the socket.io client emits and the server acknowledges. */
const EVENT = 'm';

/** What every send carries: a 100-byte object as JSON (checked by the smoke test). */
export const PAYLOAD = Object.freeze({
  room: 'lobby',
  author: 'user-4711',
  text: 'x'.repeat(34),
  at: 1_767_225_600_000,
});

type Pattern = 'paced' | 'burst';

/** One client of either library: `run` sends `count` and resolves once all are confirmed. */
interface Client {
  run(pattern: Pattern, count: number): Promise<void>;
  close(): void;
}

/** Keep `window` sends unconfirmed; start one more as each is confirmed, until `count`. */
function paced(
  count: number,
  window: number,
  sendOne: (confirmed: () => void, failed: (error: unknown) => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let confirmed = 0;
    const next = () => {
      sent++;
      sendOne(() => {
        if (++confirmed === count) resolve();
        else if (sent < count) next();
      }, reject);
    };
    for (let i = 0; i < Math.min(window, count); i++) next();
  });
}

/** A holdfast connection over WebSocket, open. */
async function holdfastClient(url: string, window: number, count: number): Promise<Client> {
  const conn: Connection = createConnection({
    transport: webSocketTransport({ url, WebSocket, maxInFlight: window }),
    maxQueue: Math.max(count, 1000),
  });
  await untilOpen(conn);
  return {
    run(pattern, n) {
      if (pattern === 'paced')
        return paced(n, window, (confirmed, failed) => {
          conn.send(PAYLOAD).then(confirmed, failed);
        });
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) sends.push(conn.send(PAYLOAD));
      return Promise.all(sends).then(() => undefined);
    },
    close: () => conn.close(),
  };
}

/**
 * What a socket.io app needs for a burst with a window: `send` queues, and at most
 * `window` are emitted and unacknowledged at once; each ack emits the next queued one.
 * The queue is an array read from a moving head (O(1) per send), as holdfast's outbox is
 * O(1) per message.
 */
function windowedEmitter(socket: Socket, window: number) {
  const queue: Array<() => void> = [];
  let head = 0;
  let inFlight = 0;
  const pump = () => {
    while (inFlight < window && head < queue.length) {
      const done = queue[head] as () => void;
      queue[head++] = undefined as unknown as () => void;
      inFlight++;
      socket.emit(EVENT, PAYLOAD, () => {
        inFlight--;
        done();
        pump();
      });
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
  };
  return {
    send(): Promise<void> {
      return new Promise((resolve) => {
        queue.push(resolve);
        pump();
      });
    },
  };
}

/** A socket.io client over WebSocket only (no long-polling first), connected. */
async function socketIoClient(url: string, window: number): Promise<Client> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const emitter = windowedEmitter(socket, window);
  return {
    run(pattern, n) {
      if (pattern === 'paced')
        return paced(n, window, (confirmed) => {
          socket.emit(EVENT, PAYLOAD, confirmed);
        });
      const sends: Promise<void>[] = [];
      for (let i = 0; i < n; i++) sends.push(emitter.send());
      return Promise.all(sends).then(() => undefined);
    },
    close: () => {
      socket.disconnect();
    },
  };
}

/** A socket.io server with its default settings, acknowledging every `m` it is sent. */
async function listenSocketIo(onMessage: () => void) {
  const http = createHttpServer();
  const server = new SocketIoServer(http);
  server.on('connection', (socket) => {
    socket.on(EVENT, (_data: unknown, ack: () => void) => {
      onMessage();
      ack();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** ms from the first send to the last confirmation, on a fresh client. */
async function timeRun(
  open: () => Promise<Client>,
  pattern: Pattern,
  count: number,
  handled: { count: number },
): Promise<number> {
  const client = await open();
  const before = handled.count;
  const started = performance.now();
  await client.run(pattern, count);
  const ms = performance.now() - started;
  client.close();
  // Every confirmation was of a message the server's handler saw, once.
  if (handled.count - before !== count)
    throw new Error(`bench: ${handled.count - before} handled of ${count} confirmed`);
  return ms;
}

/**
 * Confirmed msg/s of holdfast and of socket.io, app-paced and in a burst, and the ratio
 * holdfast / socket.io of each. Both warm up each pattern first, then run alternately
 * `rounds` times (which one goes first alternates too); the medians are compared.
 */
export async function confirmedVsSocketIo(count: number, window = 64, rounds = 5) {
  const holdfastHandled = { count: 0 };
  const socketIoHandled = { count: 0 };
  const holdfastServer = createServer({
    onMessage: () => {
      holdfastHandled.count++;
    },
  });
  const holdfastListening = await holdfastServer.listen();
  const socketIo = await listenSocketIo(() => {
    socketIoHandled.count++;
  });
  const sides = [
    {
      name: 'holdfast',
      open: () => holdfastClient(holdfastListening.wsUrl, window, count),
      handled: holdfastHandled,
    },
    {
      name: 'socketIo',
      open: () => socketIoClient(socketIo.url, window),
      handled: socketIoHandled,
    },
  ] as const;
  try {
    const warmUp = Math.max(1, Math.round(count / 5));
    const result: Record<
      Pattern,
      { holdfastPerSec: number; socketIoPerSec: number; ratio: number }
    > = {
      paced: { holdfastPerSec: 0, socketIoPerSec: 0, ratio: 0 },
      burst: { holdfastPerSec: 0, socketIoPerSec: 0, ratio: 0 },
    };
    for (const pattern of ['paced', 'burst'] as const) {
      for (const side of sides) await timeRun(side.open, pattern, warmUp, side.handled);
      const ms: Record<(typeof sides)[number]['name'], number[]> = { holdfast: [], socketIo: [] };
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? sides : ([sides[1], sides[0]] as const);
        for (const side of order)
          ms[side.name].push(await timeRun(side.open, pattern, count, side.handled));
      }
      const holdfastMs = median(ms.holdfast);
      const socketIoMs = median(ms.socketIo);
      result[pattern] = {
        holdfastPerSec: Math.round((count / holdfastMs) * 1000),
        socketIoPerSec: Math.round((count / socketIoMs) * 1000),
        ratio: socketIoMs / holdfastMs,
      };
    }
    return { messages: count, window, ...result };
  } finally {
    await holdfastListening.close();
    await socketIo.close();
  }
}

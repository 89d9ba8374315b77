/**
 * The comparative benchmarks of docs/benchmarks.md. Each returns holdfast's figure beside
 * a baseline measured in the same process and run; sizes are parameters so a smoke test
 * can run every one of them tiny.
 */
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { EventSource } from 'eventsource';
import { Bench } from 'tinybench';
import { WebSocket } from 'ws';
// The built package, as users run it (`npm run bench` builds first).
import { type Connection, createConnection, type Transport } from '../dist/index.js';
import { createMemoryServer } from '../dist/memory.js';
import { createServer } from '../dist/server.js';
import { sseTransport } from '../dist/sse.js';
import { webSocketTransport } from '../dist/websocket.js';
import { settle } from '../test/support/settle.js';

const gc = (globalThis as { gc?: () => void }).gc;

export function untilOpen(conn: Connection): Promise<void> {
  return new Promise((resolve) => {
    if (conn.state === 'open') return resolve();
    const off = conn.on('open', () => {
      off();
      resolve();
    });
  });
}

export async function sendAll(conn: Connection, count: number, payload: unknown): Promise<void> {
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) sends.push(conn.send(payload));
  await Promise.all(sends);
}

/** 1. µs per confirmed message that the machine adds over calling the link directly. */
export async function machineOverhead(messages: number) {
  const result: Record<string, number> = {};
  const bench = new Bench({ iterations: 5, warmupIterations: 1, time: 0 });
  for (const window of [1, 64]) {
    const server = createMemoryServer({ heartbeatMs: 0, dedupWindow: 1 });
    const conn = createConnection({
      transport: server.transport({ maxInFlight: window }),
      maxQueue: messages,
    });
    await untilOpen(conn);
    bench.add(`holdfast, ${window} in flight`, () => sendAll(conn, messages, 1));
    const direct = createMemoryServer({ heartbeatMs: 0, dedupWindow: 1 });
    const link = direct
      .transport()
      .connect({ open() {}, message() {}, alive() {}, stream() {}, close() {} });
    await settle();
    bench.add(`direct link, ${window} in flight`, async () => {
      // The same pipelining by hand: at most `window` unconfirmed at once.
      let next = 0;
      const lane = async () => {
        while (next < messages) {
          const id = `d${next++}`;
          await link.send({ id, serial: next, data: 1, json: '1', retry: true });
        }
      };
      await Promise.all(Array.from({ length: Math.min(window, messages) }, lane));
    });
  }
  await bench.run();
  for (const task of bench.tasks) {
    result[task.name] = ((task.result?.latency?.mean ?? task.result?.mean ?? 0) * 1000) / messages;
  }
  return result;
}

/** Confirmed messages per second over one holdfast connection. */
export async function holdfastRun(url: string, messages: number, window: number, payload: string) {
  const conn = createConnection({
    transport: webSocketTransport({ url, WebSocket, maxInFlight: window }),
    maxQueue: messages,
  });
  await untilOpen(conn);
  const started = performance.now();
  await sendAll(conn, messages, payload);
  const ms = performance.now() - started;
  conn.close();
  return ms;
}

/** The same protocol by hand: send, count acks, keep `window` unconfirmed. */
async function rawRun(url: string, messages: number, window: number, payload: string) {
  const raw = new WebSocket(url);
  await new Promise((resolve) => raw.once('message', resolve)); // welcome
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let acked = 0;
    const pump = () => {
      while (sent < messages && sent - acked < window) {
        raw.send(JSON.stringify({ type: 'send', id: `r${sent++}`, data: payload }));
      }
    };
    raw.on('message', (data) => {
      if (JSON.parse(String(data)).type !== 'ack') return;
      if (++acked === messages) resolve();
      else pump();
    });
    pump();
  });
  const ms = performance.now() - started;
  raw.close();
  return ms;
}

/**
 * 2. Confirmed WebSocket throughput, holdfast vs a raw `ws` client with the same window.
 * Both warm up first (the server and `ws` are shared, so whichever ran first would pay
 * for the JIT), then run alternately five times; the median of each is compared.
 */
export async function webSocketThroughput(messages: number, window = 64, rounds = 5) {
  const server = createServer({ heartbeatMs: 10_000, dedupWindow: 1 });
  const listening = await server.listen();
  const payload = 'x'.repeat(100);
  const url = listening.wsUrl;
  try {
    const warmUp = Math.max(1, Math.round(messages / 5));
    await holdfastRun(url, warmUp, window, payload);
    await rawRun(url, warmUp, window, payload);
    const holdfast: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < rounds; i++) {
      holdfast.push(await holdfastRun(url, messages, window, payload));
      raw.push(await rawRun(url, messages, window, payload));
    }
    const holdfastMs = median(holdfast);
    const rawMs = median(raw);
    return {
      holdfastPerSec: Math.round((messages / holdfastMs) * 1000),
      rawPerSec: Math.round((messages / rawMs) * 1000),
      ratio: rawMs / holdfastMs,
    };
  } finally {
    await listening.close();
  }
}

/**
 * 3. Flush of messages queued while suspended, from the link being open to `open`: SSE
 * batched vs one message per POST (and WebSocket).
 */
export async function flush(messages: number) {
  const server = createServer({ heartbeatMs: 10_000, dedupWindow: 1 });
  const listening = await server.listen();
  const time = async (transport: Transport) => {
    // From the moment the new link is open (the machine's `link.open`) to `open`.
    let linkOpenAt = Number.NaN;
    const conn = createConnection({
      transport,
      maxQueue: messages,
      inspect: (event) => {
        if (event.type === '@xstate.event' && event.event.type === 'link.open')
          linkOpenAt = performance.now();
      },
    });
    await untilOpen(conn);
    conn.suspend();
    for (let i = 0; i < messages; i++) void conn.send(i);
    conn.resume();
    await new Promise<void>((resolve) => conn.on('open', () => resolve()));
    const ms = performance.now() - linkOpenAt;
    conn.close();
    return ms;
  };
  try {
    const batched = await time(sseTransport({ url: listening.sseUrl, EventSource }));
    const unbatched = await time(sseTransport({ url: listening.sseUrl, EventSource, maxBatch: 1 }));
    const websocket = await time(webSocketTransport({ url: listening.wsUrl, WebSocket }));
    return {
      sseBatchedMs: batched,
      sseUnbatchedMs: unbatched,
      webSocketMs: websocket,
      ratio: unbatched / batched,
    };
  } finally {
    await listening.close();
  }
}

/** 4. From the server listening again to `open`, in round trips of a bare HTTP request. */
export async function recovery(restarts: number) {
  const server = createServer({ heartbeatMs: 10_000 });
  const listening = await server.listen();
  type Recovery = { medianMs: number; p99Ms: number; roundTrips: number };
  const results: { websocket?: Recovery; sse?: Recovery } = {};
  try {
    // One round trip: a request to the same server on a fresh connection.
    const rtts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await fetch(`${listening.url}/nowhere`, { headers: { connection: 'close' } }).then((r) =>
        r.arrayBuffer(),
      );
      rtts.push(performance.now() - started);
    }
    const rtt = median(rtts);
    for (const [name, transport] of [
      ['websocket', webSocketTransport({ url: listening.wsUrl, WebSocket })],
      ['sse', sseTransport({ url: listening.sseUrl, EventSource })],
    ] as const) {
      const conn = createConnection({
        transport,
        backoff: () => 0,
        maxAttempts: Number.POSITIVE_INFINITY,
      });
      conn.watch('s');
      await untilOpen(conn);
      const times: number[] = [];
      for (let i = 0; i < restarts; i++) {
        const reopened = new Promise<number>((resolve) => {
          const off = conn.on('open', () => {
            off();
            resolve(performance.now());
          });
        });
        await server.faults.restart();
        const listeningAt = performance.now();
        times.push((await reopened) - listeningAt);
      }
      conn.close();
      results[name] = {
        medianMs: median(times),
        p99Ms: percentile(times, 0.99),
        roundTrips: median(times) / rtt,
      };
    }
    return { rttMs: rtt, ...results };
  } finally {
    await listening.close();
  }
}

/** 5. Retained heap per idle connection and per queued 100-byte message. */
export async function memory(connections: number, queued: number) {
  const heap = () => {
    gc?.();
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const server = createMemoryServer({ heartbeatMs: 0 });
  let before = heap();
  const idle: Connection[] = [];
  for (let i = 0; i < connections; i++)
    idle.push(createConnection({ transport: server.transport() }));
  await settle();
  const perConnection = (heap() - before) / connections;
  for (const c of idle) c.close();
  const held = createMemoryServer({ heartbeatMs: 0, behaviour: { connect: 'hold' } });
  const conn = createConnection({ transport: held.transport(), maxQueue: queued });
  before = heap();
  const payload = 'y'.repeat(100);
  for (let i = 0; i < queued; i++) void conn.send(payload);
  const perMessage = (heap() - before) / queued;
  conn.close();
  return {
    perIdleConnectionKB: perConnection / 1024,
    perQueuedMessageBytes: perMessage,
    measuredWithGc: gc !== undefined,
  };
}

/** 6. Minified + gzipped bytes of an entry bundled with esbuild. */
async function bundleSize(contents: string, external: string[]): Promise<number> {
  const { gzipSync } = await import('node:zlib');
  const result = await build({
    stdin: { contents, resolveDir: new URL('..', import.meta.url).pathname, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    external,
    logLevel: 'silent',
  });
  return gzipSync(result.outputFiles[0]?.contents ?? new Uint8Array()).length;
}

export async function sizes() {
  const holdfast = `export { createConnection } from './dist/index.js'; export { webSocketTransport } from './dist/websocket.js';`;
  return {
    holdfastWithoutXstate: await bundleSize(holdfast, ['xstate']),
    holdfastWithXstate: await bundleSize(holdfast, []),
    partysocket: await bundleSize(`export { WebSocket } from 'partysocket';`, []),
    reconnectingWebsocket: await bundleSize(
      `export { default } from 'reconnecting-websocket';`,
      [],
    ),
    socketIoClient: await bundleSize(`export { io } from 'socket.io-client';`, []),
  };
}

export function median(values: number[]): number {
  return percentile(values, 0.5);
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/**
 * For context: unconfirmed throughput of partysocket and reconnecting-websocket sending
 * the same frames to the same server, until the server has handled them all.
 */
export async function contextThroughput(messages: number) {
  const { WebSocket: PartySocket } = await import('partysocket');
  const { default: ReconnectingWebSocket } = await import('reconnecting-websocket');
  const payload = 'x'.repeat(100);
  const perSec: Record<string, number> = {};
  for (const [name, Client] of [
    ['partysocket', PartySocket],
    ['reconnecting-websocket', ReconnectingWebSocket],
  ] as const) {
    let handled = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    const server = createServer({
      heartbeatMs: 10_000,
      dedupWindow: 1,
      onMessage: () => {
        if (++handled === messages) done();
      },
    });
    const listening = await server.listen();
    const socket = new (
      Client as new (
        url: string,
        protocols: undefined,
        options: object,
      ) => {
        send(data: string): void;
        close(): void;
        addEventListener(type: string, fn: () => void): void;
      }
    )(listening.wsUrl, undefined, { WebSocket });
    await new Promise<void>((resolve) => socket.addEventListener('open', () => resolve()));
    const started = performance.now();
    for (let i = 0; i < messages; i++)
      socket.send(JSON.stringify({ type: 'send', id: `${name}${i}`, data: payload }));
    await all;
    perSec[name] = Math.round((messages / (performance.now() - started)) * 1000);
    socket.close();
    await listening.close();
  }
  return perSec;
}

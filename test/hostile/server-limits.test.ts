/**
 * The reference server against hostile and careless peers and apps (issue 11, items 4–6):
 * peers that do not read, publish serialising once, HTTP time limits, the connection limit
 * and what a closed link leaves behind. Items 1–3 are in server.test.ts.
 */
import { connect as tcpConnect } from 'node:net';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import { createConnection } from '../../src/index.js';
import { Hub, type WireLink } from '../../src/server/hub.js';
import { createServer } from '../../src/server/index.js';
import { until } from '../integration/wire.js';
import {
  closeOpened,
  fetchPost,
  heldBytes,
  opened,
  openSocket,
  openStream,
  rawEventStream,
  rawWebSocket,
  startServer,
} from './server-support.js';

afterEach(closeOpened);

describe('4. a peer that does not read cannot grow the server', () => {
  const chunk = 'x'.repeat(64 * 1024);
  const LIMIT = 1 << 20;

  it('WebSocket: a link over maxBufferedBytes is dropped during a publish loop; memory stays bounded', async () => {
    const { server, listening } = await startServer({ maxBufferedBytes: LIMIT, replayWindow: 4 });
    const raw = await rawWebSocket(listening.wsUrl);
    raw.send('{"type":"resume","streams":[{"stream":"s","seq":0}]}');
    await until(() => raw.text().includes('"resumed"'), 'resumed');
    raw.socket.pause(); // and never reads again
    const before = heldBytes();
    for (let i = 0; i < 800; i++) server.publish('s', chunk); // 50 MiB
    const growth = heldBytes() - before;
    await until(() => server.connections.size === 0, 'the slow link dropped');
    expect(growth).toBeLessThan(16 << 20);
  });

  it.each(['websocket', 'sse'] as const)(
    '%s: a reader that keeps up takes a burst over maxBufferedBytes whole, and is not dropped',
    async (wire) => {
      const { server, listening } = await startServer({
        maxBufferedBytes: LIMIT,
        replayWindow: 100,
      });
      const transport =
        wire === 'websocket'
          ? webSocketTransport({ url: listening.wsUrl, WebSocket })
          : sseTransport({ url: listening.sseUrl, EventSource });
      const conn = createConnection({ transport, backoff: () => 5 });
      const errors: string[] = [];
      let got = 0;
      conn.on('error', (e) => errors.push(e.kind));
      conn.on('message', () => got++);
      conn.watch('s');
      await conn.send('ready');
      // 2.5 MiB at once: over the limit in a burst, far under it once the reader drains.
      for (let i = 0; i < 40; i++) server.publish('s', chunk);
      await until(() => got === 40, 'every event of the burst', 10_000);
      expect(errors).toEqual([]);
      expect(server.connections.size).toBe(1);
      conn.close();
    },
  );

  it('SSE: an event stream over maxBufferedBytes is dropped during a publish loop; memory stays bounded', async () => {
    const { server, listening } = await startServer({ maxBufferedBytes: LIMIT, replayWindow: 4 });
    const raw = await rawEventStream(listening.sseUrl);
    const resumed = await fetchPost(
      `${listening.sseUrl}/resume`,
      '{"streams":[{"stream":"s","seq":0}]}',
      { 'X-Connection-ID': raw.id },
    );
    expect(resumed.status).toBe(200);
    raw.socket.pause();
    const before = heldBytes();
    for (let i = 0; i < 800; i++) server.publish('s', chunk);
    const growth = heldBytes() - before;
    await until(() => server.connections.size === 0, 'the slow link dropped');
    expect(growth).toBeLessThan(16 << 20);
  });

  it('a replay to a peer that does not read stops at maxBufferedBytes and drops the link', async () => {
    const { server, listening } = await startServer({ maxBufferedBytes: LIMIT, replayWindow: 800 });
    for (let i = 0; i < 800; i++) server.publish('s', chunk);
    const raw = await rawWebSocket(listening.wsUrl);
    raw.socket.pause();
    const before = heldBytes();
    raw.send('{"type":"resume","streams":[{"stream":"s","seq":0}]}');
    await until(() => server.connections.size === 0, 'the slow link dropped');
    expect(heldBytes() - before).toBeLessThan(16 << 20);
  });
});

describe('5. publish serialises once', () => {
  it.each([
    ['a BigInt', () => 10n],
    [
      'a cycle',
      () => {
        const a: Record<string, unknown> = {};
        a.self = a;
        return a;
      },
    ],
    [
      'nesting too deep for JSON.stringify',
      () => {
        let deep: unknown[] = [];
        for (let i = 0; i < 100_000; i++) deep = [deep];
        return deep;
      },
    ],
    ['undefined', () => undefined],
    ['a function', () => () => 1],
  ])('data that is %s throws a TypeError to the caller and is not logged', async (_, make) => {
    const { server, listening } = await startServer();
    const ws = await openSocket(listening.wsUrl);
    ws.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(() => ws.frames.some((f) => f.type === 'resumed'), 'resumed');
    let thrown: unknown;
    try {
      server.publish('s', make());
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as TypeError).message).toMatch(
      /^holdfast\/server: publish\(\) data must be serialisable to JSON/,
    );
    expect(server.publish('s', 'fine').seq).toBe(1);
    // A later resume replays the log: nothing poisoned in it.
    const late = await openSocket(listening.wsUrl);
    late.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(() => late.frames.some((f) => f.type === 'resumed'), 'resumed');
    expect(late.events()).toEqual([{ type: 'event', stream: 's', seq: 1, data: 'fine' }]);
    await until(() => ws.events().length === 1, 'live event');
    expect(ws.closed()).toBeUndefined();
    ws.socket.close();
    late.socket.close();
  });

  it('fan-out and replay never serialise data again, and the log keeps what was published', async () => {
    const { server, listening } = await startServer();
    const watchers = [await openSocket(listening.wsUrl), await openSocket(listening.wsUrl)];
    for (const ws of watchers) ws.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(
      () => watchers.every((ws) => ws.frames.some((f) => f.type === 'resumed')),
      'resumed',
    );
    const stream = await openStream(listening.sseUrl);
    await stream.post('resume', { streams: [{ stream: 's', seq: 0 }] });
    let serialised = 0;
    const data = {
      text: 'hi',
      toJSON() {
        serialised++;
        return { text: this.text };
      },
    };
    server.publish('s', data);
    expect(serialised).toBe(1);
    data.text = 'changed after publish';
    await until(() => watchers.every((ws) => ws.events().length === 1), 'events');
    await until(() => stream.text().includes('"seq":1,'), 'SSE event');
    expect(stream.text()).toContain(
      'event: event\ndata: {"stream":"s","seq":1,"data":{"text":"hi"}}\n\n',
    );
    const late = await openSocket(listening.wsUrl);
    late.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(() => late.frames.some((f) => f.type === 'resumed'), 'replay');
    expect(late.events()).toEqual([{ type: 'event', stream: 's', seq: 1, data: { text: 'hi' } }]);
    expect(serialised).toBe(1);
    for (const ws of [...watchers, late]) ws.socket.close();
    stream.close();
  });

  it('publish refuses a stream name that no client could resume', async () => {
    const { server } = await startServer();
    expect(() => server.publish('', 1)).toThrow(TypeError);
    expect(() => server.publish('x'.repeat(257), 1)).toThrow(/1–256 characters/);
  });
});

describe('6. HTTP time limits, the connection limit, and what a closed link leaves behind', () => {
  it('a POST whose body trickles in is cut off with 408 after requestTimeoutMs; open event streams outlive it', async () => {
    const { listening } = await startServer({ requestTimeoutMs: 150, heartbeatMs: 20 });
    const stream = await openStream(listening.sseUrl);
    const { hostname, port } = new URL(listening.url);
    const socket = tcpConnect(Number(port), hostname);
    socket.on('error', () => {});
    opened.push({ close: () => socket.destroy() });
    let answer = '';
    let closed = false;
    socket.on('data', (data: Buffer) => {
      answer += data.toString('latin1');
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.write(
      `POST /sse/send HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        `X-Connection-ID: ${stream.id}\r\nContent-Length: 1000\r\n\r\n{"messages":[`,
    );
    const started = Date.now();
    await until(() => closed, 'the slow request cut off');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    // The event stream, long past the limit, still gets its pings.
    const pings = () => stream.text().match(/event: ping\n/g)?.length ?? 0;
    const seen = pings();
    await until(() => pings() >= seen + 5, 'more pings');
    expect((await stream.post('suspend', { streams: [] })).status).toBe(204);
    stream.close();
  });

  it('maxConnections refuses one more link: WebSocket close 1013, GET B/events 503 with Retry-After', async () => {
    const { server, listening } = await startServer({ maxConnections: 2 });
    const a = await openSocket(listening.wsUrl);
    const b = await openStream(listening.sseUrl);
    const c = await openSocket(listening.wsUrl, { welcome: false });
    expect(c.closed()).toEqual({ code: 1013, reason: 'try again later' });
    const d = await fetch(`${listening.sseUrl}/events`);
    expect(d.status).toBe(503);
    expect(d.headers.get('retry-after')).toBe('5');
    expect(server.connections.size).toBe(2);
    // POSTs on a live link are not counted.
    expect((await b.post('send', { messages: [{ id: 'm', data: 1 }] })).status).toBe(200);
    a.socket.close();
    await until(() => server.connections.size === 1, 'a closed');
    const e = await openSocket(listening.wsUrl);
    expect(e.frames[0]?.type).toBe('welcome');
    e.socket.close();
    b.close();
  });

  it('a limit that is not a positive number is refused by createServer with a TypeError', () => {
    for (const options of [
      { maxBufferedBytes: 0 },
      { maxStreamsPerConnection: -1 },
      { maxConnections: Number.NaN },
      { requestTimeoutMs: Number.POSITIVE_INFINITY },
      { requestTimeoutMs: '30s' as unknown as number },
    ])
      expect(() => createServer(options)).toThrow(TypeError);
  });

  it('the closed-connection list keeps ids only: a closed connection and its streams are collected, and a late suspend notice still counts', async () => {
    const hub = new Hub();
    const link: WireLink = {
      transport: 'sse',
      eventFrame: () => '',
      pingFrame: '',
      buffered: () => 0,
      write: () => {},
      drop: () => {},
    };
    // In a function of its own, so nothing of this test's frame keeps the connection.
    const watchThenClose = () => {
      const { connection, closed } = hub.connect(link, 60_000);
      const plan = hub.planResume(
        connection,
        Array.from({ length: 1000 }, (_, i) => ({ stream: `s${i}`, seq: 0 })),
      );
      if ('refused' in plan) throw new Error(plan.error);
      hub.resume(connection, plan);
      expect(connection.streams.size).toBe(1000);
      closed();
      return { id: connection.id, streams: new WeakRef(connection.streams) };
    };
    const { id, streams } = watchThenClose();
    expect(hub.noteSuspend(id)).toBe(true); // a late notice is still recognised
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc?.();
    expect(streams.deref()).toBeUndefined();
    expect(hub.noteSuspend('never-was')).toBe(false);
  });
});

/**
 * examples/plain-websocket: holdfast over a plain JSON WebSocket server that never acks
 * (`delivery: 'written'`), a real server on 127.0.0.1 and the `ws` package's client. The
 * point of each test is what the app is told: written is not received, and a lost link
 * says how many writes may never have arrived.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  createPlainServer,
  type PlainServerOptions,
} from '../../examples/plain-websocket/server.js';
import {
  PROTOCOL_ERROR_CLOSE,
  plainWebSocketTransport,
} from '../../examples/plain-websocket/transport.js';
import type { WebSocketLike } from '../../examples/plain-websocket/web.js';
import {
  type ConnectionError,
  type ConnectionOptions,
  createConnection,
  type LinkEvents,
  type OutboundMessage,
} from '../../src/index.js';
import { until } from '../integration/wire.js';
import { settle } from '../support/settle.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A plain server and a connection to it over the example transport, both closed after. */
async function start(server: PlainServerOptions = {}, connection: Partial<ConnectionOptions> = {}) {
  const plain = createPlainServer(server);
  const { url, close } = await plain.listen();
  cleanups.push(close);
  const conn = createConnection({
    transport: plainWebSocketTransport({ url, WebSocket }),
    backoff: () => 5,
    ...connection,
  });
  cleanups.push(() => conn.close());
  const errors: ConnectionError[] = [];
  conn.on('error', (error) => errors.push(error));
  const texts = () => plain.seen.received.map(({ link, data }) => [link, (data as Text).text]);
  return { server: plain, conn, errors, texts };
}

interface Text {
  text: string;
}
const texts = (...words: string[]): Text[] => words.map((text) => ({ text }));

describe('examples/plain-websocket: a transport for a JSON WebSocket server without acks', () => {
  it('sends resolve { confirmed: false }; the server gets them, in order, after', async () => {
    const { server, conn, texts: got } = await start();
    const words = Array.from({ length: 20 }, (_, i) => `m${i + 1}`);
    const receipts = await Promise.all(texts(...words).map((m) => conn.send(m)));
    expect(receipts).toEqual(words.map(() => ({ confirmed: false })));
    // Written is not received: the server may not have read them yet, so wait for it.
    await until(() => server.seen.received.length === 20, 'the server to read all 20');
    expect(got()).toEqual(words.map((word) => [1, word]));
  });

  it("frames the server pushes reach on('message') as they are, with no stream or seq", async () => {
    const { server, conn } = await start();
    const got: Array<{ data: unknown; frame: object }> = [];
    conn.on('message', (data, frame) => got.push({ data, frame }));
    await until(() => conn.state === 'open', 'open');
    server.push({ text: 'hi' });
    server.push([1, 2]);
    server.push('plain');
    await until(() => got.length === 3, 'three frames');
    expect(got).toEqual([
      { data: { text: 'hi' }, frame: { data: { text: 'hi' } } },
      { data: [1, 2], frame: { data: [1, 2] } },
      { data: 'plain', frame: { data: 'plain' } },
    ]);
  });

  it('a link lost after writes is reported as unconfirmed, counting every write on it; the next link sends again', async () => {
    const { server, conn, errors, texts: got } = await start();
    await Promise.all(texts('a', 'b', 'c').map((m) => conn.send(m)));
    await until(() => server.seen.received.length === 3, 'a, b and c read');
    // The link dies one way: the client writes, the server never handles a byte of it.
    server.faults.blackhole(true);
    const receipts = await Promise.all(texts('d', 'e', 'f', 'g').map((m) => conn.send(m)));
    expect(receipts).toEqual(texts('d', 'e', 'f', 'g').map(() => ({ confirmed: false })));
    await until(() => server.seen.discarded.length === 4, 'd–g thrown away');
    server.faults.blackhole(false);
    server.faults.dropAll();
    await until(() => errors.some((e) => e.kind === 'unconfirmed'), 'the unconfirmed report');

    const written = 7;
    const receivedOnLink = server.seen.received.filter(({ link }) => link === 1).length;
    expect(receivedOnLink).toBe(3);
    const report = errors.find((e) => e.kind === 'unconfirmed');
    // It covers at least what never arrived; the transport cannot tell which those are, so
    // it counts every write on the link.
    expect(report?.count).toBeGreaterThanOrEqual(written - receivedOnLink);
    expect(report?.count).toBe(written);
    expect(errors.map((e) => [e.kind, e.code, e.count])).toEqual([
      ['link', 1006, undefined],
      ['unconfirmed', undefined, 7],
    ]);

    expect(await conn.send({ text: 'h' })).toEqual({ confirmed: false });
    await until(() => server.seen.received.length === 4, 'h read');
    // d–g are gone for good: holdfast never resends a message once it was written.
    expect(got()).toEqual([
      [1, 'a'],
      [1, 'b'],
      [1, 'c'],
      [2, 'h'],
    ]);
    expect(conn.state).toBe('open');
  });

  it('a server frame that is not JSON ends the link with a protocol error; the connection reconnects', async () => {
    const { server, conn, errors, texts: got } = await start();
    await until(() => conn.state === 'open', 'open');
    server.faults.pushRaw('not json {');
    await until(() => server.seen.links === 2 && conn.state === 'open', 'open on a second link');
    expect(errors.map((e) => e.kind)).toEqual(['protocol']);
    expect(errors[0]?.message).toMatch(/a frame that is not JSON/);
    expect(server.seen.closed[0]).toEqual({
      link: 1,
      code: PROTOCOL_ERROR_CLOSE,
      reason: 'a frame that is not JSON',
    });
    await conn.send({ text: 'after' });
    await until(() => server.seen.received.length === 1, 'after read');
    expect(got()).toEqual([[2, 'after']]);
  });

  it("the ws package's pings keep an idle link alive past its silence timeout", async () => {
    const { server, conn, errors } = await start({ pingMs: 20 }, { heartbeatTimeoutMs: 400 });
    await until(() => conn.state === 'open', 'open');
    const from = server.seen.pings;
    // 60 pings of 20 ms: three times the silence the client allows, and not one frame.
    await until(() => server.seen.pings >= from + 60, 'sixty pings', 10_000);
    expect(errors).toEqual([]);
    expect(server.seen.links).toBe(1);
  }, 15_000);
});

/** A socket the test drives by hand: `ws`-like (a send callback, `on`) or browser-like. */
class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: string[] = [];
  readonly callbacks: Array<(error?: Error) => void> = [];
  private readonly listeners = new Map<string, Array<(event: unknown) => void>>();
  addEventListener(type: string, listener: (event: never) => void) {
    const list = this.listeners.get(type) ?? [];
    list.push(listener as (event: unknown) => void);
    this.listeners.set(type, list);
  }
  emit(type: string, event: unknown = {}) {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
  send(data: string, callback?: (error?: Error) => void) {
    this.sent.push(data);
    if (callback) this.callbacks.push(callback);
  }
  close() {
    this.readyState = 3;
  }
}
class FakeWsSocket extends FakeSocket {
  on() {
    return this;
  }
}

/** The transport over one fake socket, the link, and what the link reported. */
function fakeLink(Socket: typeof FakeSocket) {
  const sockets: FakeSocket[] = [];
  const transport = plainWebSocketTransport({
    url: 'ws://fake',
    WebSocket: class extends Socket {
      constructor() {
        super();
        sockets.push(this);
      }
    },
  });
  const reported: unknown[][] = [];
  const record =
    (name: string) =>
    (...args: unknown[]) =>
      reported.push([name, ...args]);
  const events: LinkEvents = {
    open: record('open'),
    message: record('message'),
    alive: record('alive'),
    stream: record('stream'),
    close: record('close'),
  };
  const link = transport.connect(events);
  const socket = sockets[0] as FakeSocket;
  const open = () => {
    socket.readyState = 1;
    socket.emit('open');
  };
  return { link, socket, reported, open };
}

const message = (text: string): OutboundMessage => ({
  id: text,
  serial: 1,
  data: { text },
  json: JSON.stringify({ text }),
  retry: true,
});

describe('examples/plain-websocket: what send() resolves with', () => {
  it('without a send callback (browsers) a send is written at once; a socket not open answers retry', async () => {
    const { link, socket, reported, open } = fakeLink(FakeSocket);
    expect(await link.send(message('early'))).toMatchObject({ status: 'retry' });
    open();
    expect(reported).toEqual([['open']]);
    expect(await link.send(message('a'))).toEqual({ status: 'ok' });
    expect(socket.sent).toEqual(['{"text":"a"}']);
    socket.readyState = 2;
    expect(await link.send(message('b'))).toMatchObject({ status: 'retry' });
    expect(socket.sent).toEqual(['{"text":"a"}']);
  });

  it("with ws's callback a send resolves once written; a failed write answers retry, and nothing after it is written", async () => {
    const { link, socket, open } = fakeLink(FakeWsSocket);
    open();
    let settled = 0;
    const sends = ['a', 'b', 'c'].map((text) =>
      link.send(message(text)).then((outcome) => {
        settled++;
        return outcome;
      }),
    );
    await settle();
    expect(settled).toBe(0);
    const lost = new Error('write EPIPE');
    socket.callbacks[0]?.();
    socket.callbacks[1]?.(lost);
    socket.callbacks[2]?.(new Error('write EPIPE'));
    expect(await Promise.all(sends)).toEqual([
      { status: 'ok' },
      { status: 'retry', error: lost },
      { status: 'retry', error: lost },
    ]);
    // b failed: d must not reach the server ahead of it, whatever the socket says.
    expect(await link.send(message('d'))).toEqual({ status: 'retry', error: lost });
    expect(socket.sent).toHaveLength(3);
  });

  it('after close() the link reports nothing, and a bad frame before it is one protocol close', async () => {
    const bad = fakeLink(FakeSocket);
    bad.open();
    bad.socket.emit('message', { data: 'not json' });
    bad.socket.emit('close', { code: PROTOCOL_ERROR_CLOSE });
    expect(
      bad.reported.map(([name, info]) => [name, (info as { protocol?: boolean })?.protocol]),
    ).toEqual([
      ['open', undefined],
      ['close', true],
    ]);
    const closed = fakeLink(FakeSocket);
    closed.open();
    closed.link.close();
    closed.socket.emit('message', { data: '{}' });
    closed.socket.emit('close', { code: 1000 });
    expect(closed.reported).toEqual([['open']]);
  });
});

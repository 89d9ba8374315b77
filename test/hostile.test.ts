/**
 * Hostile input: servers that answer wrong on purpose. Each bad input is a `protocol`
 * error on the `error` event; the link carries on or the connection reconnects; the app
 * never sees an exception and no queued message is lost.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { sseTransport } from '../adapters/sse.js';
import { webSocketTransport } from '../adapters/websocket.js';
import { type Connection, createConnection } from '../src/index.js';
import { until } from './integration/wire.js';

const closers: Array<() => void> = [];
/** Every connection of the suite, and every send it made. */
const watched: Array<{ conn: Connection; sends: Array<Promise<unknown>> }> = [];

// Whatever a test's hostile peer did, the machine must still be running, and close()
// must settle every send it made: an actor stopped by an exception would leave them
// hanging.
afterEach(async () => {
  for (const { conn, sends } of watched.splice(0)) {
    expect(conn.actor.getSnapshot().status).toBe('active');
    conn.close();
    const settled = await Promise.race([
      Promise.allSettled(sends).then(() => true),
      new Promise((resolve) => setTimeout(resolve, 1000, false)),
    ]);
    expect(settled, 'every send settles').toBe(true);
  }
  for (const close of closers.splice(0)) close();
});

/**
 * A WebSocket server whose first connection misbehaves as `hostile` says; later ones
 * follow the protocol, so a test can check that the client recovers without loss.
 */
async function scriptedServer(
  hostile: (socket: WebSocket, frame: Record<string, unknown>) => void,
) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  let connections = 0;
  const handled: string[] = [];
  wss.on('connection', (socket) => {
    const first = ++connections === 1;
    socket.send(
      JSON.stringify({ type: 'welcome', connectionId: `c${connections}`, heartbeatMs: 1000 }),
    );
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (first) return hostile(socket, frame);
      if (frame.type === 'resume') socket.send('{"type":"resumed"}');
      if (frame.type === 'send') {
        handled.push(frame.id);
        socket.send(JSON.stringify({ type: 'ack', id: frame.id }));
      }
    });
  });
  closers.push(() => wss.close());
  const { port } = wss.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, handled, connections: () => connections };
}

function watchConnection(conn: Connection) {
  const errors: string[] = [];
  const messages: unknown[] = [];
  const sends: Array<Promise<unknown>> = [];
  const send = conn.send.bind(conn);
  conn.send = (data, options) => {
    const sent = send(data, options);
    sends.push(sent.catch(() => {}));
    return sent;
  };
  watched.push({ conn, sends });
  conn.on('error', (e) => errors.push(e.kind));
  conn.on('message', (d) => messages.push(d));
  closers.push(() => conn.close());
  return { errors, messages };
}

const client = (url: string) =>
  createConnection({ transport: webSocketTransport({ url, WebSocket }), backoff: () => 5 });

describe.each([
  ['a frame that is not JSON', (s: WebSocket) => s.send('{{{')],
  ['an unknown type', (s: WebSocket) => s.send('{"type":"surprise"}')],
  [
    'a welcome twice',
    (s: WebSocket) => s.send('{"type":"welcome","connectionId":"x","heartbeatMs":1}'),
  ],
  ['an ack for an unknown id', (s: WebSocket) => s.send('{"type":"ack","id":"nobody"}')],
  ['a resumed nobody asked for', (s: WebSocket) => s.send('{"type":"resumed"}')],
  ['the frame null', (s: WebSocket) => s.send('null')],
  ['a frame that is an array', (s: WebSocket) => s.send('[]')],
  // A close reason over 123 bytes makes close() throw: the reason must be cut.
  [
    'an unknown type 10,000 characters long',
    (s: WebSocket) => s.send(JSON.stringify({ type: 'x'.repeat(10_000) })),
  ],
  [
    'an ack whose id is an object with a hostile toString',
    (s: WebSocket) => s.send('{"type":"ack","id":{"toString":1}}'),
  ],
])('WebSocket server sending %s', (_what, misbehave) => {
  it('is a protocol error; the connection reconnects and delivers the message once', async () => {
    const server = await scriptedServer((socket) => misbehave(socket));
    const conn = client(server.url);
    const seen = watchConnection(conn);
    await conn.send('m', { id: 'm1' });
    expect(seen.errors).toContain('protocol');
    expect(server.handled).toEqual(['m1']);
    expect(server.connections()).toBe(2);
  });
});

describe('a nack whose error is hostile', () => {
  it('drops that message as rejected, names the error by its kind, and the actor carries on', async () => {
    const server = await scriptedServer((socket, frame) => {
      if (frame.type !== 'send') return;
      if (frame.id === 'bad')
        socket.send(JSON.stringify({ type: 'nack', id: frame.id, error: { toString: 1 } }));
      else socket.send(JSON.stringify({ type: 'ack', id: frame.id }));
    });
    const conn = client(server.url);
    watchConnection(conn);
    const bad = conn.send('m', { id: 'bad' }).then(
      () => 'delivered',
      (e: Error) => e.message,
    );
    expect(await bad).toBe('holdfast: the server rejected message bad: an object');
    await conn.send('n', { id: 'next' });
    expect(conn.actor.getSnapshot().status).toBe('active');
  });
});

describe('WebSocket frames with bad stream data', () => {
  it('a non-numeric or missing seq is a protocol error and the link carries on; a seq going back is a duplicate', async () => {
    const server = await scriptedServer((socket, frame) => {
      if (frame.type === 'resume') {
        socket.send('{"type":"resumed"}');
        socket.send('{"type":"event","stream":"s","seq":"seven","data":"bad"}');
        socket.send('{"type":"event","stream":"s","data":"no seq"}');
        socket.send('{"type":"event","stream":"s","seq":2,"data":"two"}');
        socket.send('{"type":"event","stream":"s","seq":1,"data":"old"}');
      }
      if (frame.type === 'send') socket.send(JSON.stringify({ type: 'ack', id: frame.id }));
    });
    const conn = client(server.url);
    const seen = watchConnection(conn);
    conn.watch('s', 1);
    await conn.send('m', { id: 'm1' });
    await until(() => seen.messages.length >= 1, 'the good frame');
    expect(seen.messages).toEqual(['two']);
    expect(seen.errors).toEqual(['protocol', 'protocol']);
    expect(server.connections()).toBe(1);
  });

  it('a 10 MB frame is delivered without harm', async () => {
    const big = 'x'.repeat(10 * 1024 * 1024);
    const server = await scriptedServer((socket, frame) => {
      if (frame.type === 'send') {
        socket.send(JSON.stringify({ type: 'event', data: big }));
        socket.send(JSON.stringify({ type: 'ack', id: frame.id }));
      }
    });
    const conn = client(server.url);
    const seen = watchConnection(conn);
    await conn.send('m');
    await until(() => seen.messages.length === 1, 'the big frame');
    expect((seen.messages[0] as string).length).toBe(big.length);
    expect(seen.errors).toEqual([]);
  });
});

describe('SSE server that cuts its stream mid-line', () => {
  it('the link ends, the connection reconnects, nothing is lost', async () => {
    let streams = 0;
    const handled: string[] = [];
    const http: Server = createHttpServer((req, res) => {
      if (req.url?.split('?')[0]?.endsWith('/events')) {
        streams++;
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(`event: welcome\ndata: {"connectionId":"c${streams}","heartbeatMs":1000}\n\n`);
        if (streams === 1) {
          res.write('event: event\ndata: {"stream":"s","se');
          setImmediate(() => res.destroy());
        }
        return;
      }
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const { messages } = JSON.parse(body) as { messages: Array<{ id: string }> };
        handled.push(...messages.map((m) => m.id));
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ results: messages.map(({ id }) => ({ id, status: 'ok' })) }));
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      http.closeAllConnections();
      http.close();
    });
    const { port } = http.address() as AddressInfo;
    const conn = createConnection({
      transport: sseTransport({ url: `http://127.0.0.1:${port}`, EventSource }),
      backoff: () => 5,
    });
    const seen = watchConnection(conn);
    await until(() => streams >= 1, 'first stream');
    await conn.send('m', { id: 'm1' });
    // This bare server keeps no dedup window, so a resend may reach it twice: with the same id.
    expect(new Set(handled)).toEqual(new Set(['m1']));
    expect(seen.messages).toEqual([]);
    expect(seen.errors).toContain('link');
  });
});

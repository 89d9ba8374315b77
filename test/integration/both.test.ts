/** Rules that hold the same over both wires, run once per adapter. */
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import type { Transport } from '../../adapters/transport.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import type { Listening } from '../../src/server/index.js';
import { connect, startServer, until } from './wire.js';

const adapters: Array<[string, (l: Listening) => Transport]> = [
  ['websocket', (l) => webSocketTransport({ url: l.wsUrl, WebSocket })],
  ['sse', (l) => sseTransport({ url: l.sseUrl, EventSource })],
];

describe.each(adapters)('%s adapter', (_name, transportFor) => {
  it('R1 order and no loss across dropped links', async () => {
    const { server, listening, received } = await startServer();
    const conn = connect({ transport: transportFor(listening) });
    const sends = Array.from({ length: 200 }, (_, i) => conn.send(i, { id: `m${i}` }));
    for (let k = 0; k < 3; k++) {
      await until(() => received.length > 50 * (k + 1), 'progress');
      server.faults.dropAll();
    }
    await Promise.all(sends);
    expect(received.map((m) => m.data)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('R2 the resume finishes before the first send on a new link: the server replays, then handles', async () => {
    const order: string[] = [];
    const { server, listening } = await startServer({ onMessage: () => order.push('send') });
    server.publish('a', 'old');
    const conn = connect({ transport: transportFor(listening) });
    conn.on('message', (data) => order.push(`event ${data}`));
    conn.watch('a');
    await conn.send('x');
    expect(order).toEqual(['event old', 'send']);
  });

  it('R13 the suspend notice is sent once', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: transportFor(listening) });
    await until(() => conn.state === 'open', 'open');
    const [connection] = server.connections.values();
    conn.suspend();
    conn.suspend();
    await until(() => (connection?.suspends ?? 0) > 0, 'suspend notice');
    expect(connection?.suspends).toBe(1);
  });

  it('R15 a silent server is detected and the connection comes back', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: transportFor(listening), heartbeatTimeoutMs: 200 });
    const errors: string[] = [];
    conn.on('error', (e) => errors.push(e.kind));
    await until(() => conn.state === 'open', 'open');
    server.faults.silence(true);
    await until(() => errors.includes('timeout'), 'heartbeat timeout');
    server.faults.silence(false);
    await until(() => conn.state === 'open', 'open again');
  });

  it('R3 a failed resume discards the link; nothing is flushed into it; the queue is kept', async () => {
    const order: string[] = [];
    const { server, listening, received } = await startServer({
      onMessage: () => order.push('send'),
    });
    server.faults.failNextResumes(2);
    const conn = connect({ transport: transportFor(listening) });
    const failures: string[] = [];
    conn.on('error', (e) => failures.push(e.kind));
    conn.watch('a');
    const sends = [conn.send(1, { id: 'a1' }), conn.send(2, { id: 'a2' })];
    await Promise.all(sends);
    // Two links were discarded (WebSocket: closed by the server; SSE: resume answered 500).
    expect(failures.filter((kind) => kind === 'link').length).toBeGreaterThanOrEqual(2);
    expect(order).toEqual(['send', 'send']);
    expect(received.map((m) => m.id)).toEqual(['a1', 'a2']);
  });

  it('R3 a hung resume times out and the connection tries a new link', async () => {
    const { server, listening } = await startServer();
    server.faults.hangResumes(true);
    const conn = connect({ transport: transportFor(listening), resumeTimeoutMs: 100 });
    const errors: string[] = [];
    conn.on('error', (e) => errors.push(e.kind));
    conn.watch('a');
    const sent = conn.send('x');
    await until(() => errors.includes('timeout'), 'resume timeout');
    expect(conn.state).not.toBe('open');
    server.faults.hangResumes(false);
    await sent;
    expect(conn.state).toBe('open');
  });

  it('R7 a message handled just before its link died reaches onMessage once', async () => {
    let first = true;
    const { listening, received } = await startServer({
      onMessage: (_message, connection) => {
        if (first) {
          first = false;
          connection.drop();
        }
      },
    });
    const conn = connect({ transport: transportFor(listening) });
    await conn.send('once', { id: 'same' });
    await conn.send('next', { id: 'next' });
    expect(received.map((m) => m.id)).toEqual(['same', 'next']);
  });

  it('R18 replays from the last position after a reconnect, duplicates filtered', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: transportFor(listening) });
    const seen: unknown[] = [];
    conn.on('message', (d) => seen.push(d));
    conn.watch('feed');
    await until(() => conn.state === 'open', 'open');
    server.publish('feed', 1);
    await until(() => seen.length === 1, 'first event');
    server.faults.dropAll();
    server.publish('feed', 2);
    server.publish('feed', 3);
    await until(() => seen.length === 3, 'replayed events');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('the server restarts keeping its logs; the client comes back and catches up', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: transportFor(listening) });
    const seen: unknown[] = [];
    conn.on('message', (d) => seen.push(d));
    conn.watch('feed');
    server.publish('feed', 1);
    await until(() => seen.length === 1, 'first event');
    await server.faults.restart();
    server.publish('feed', 2);
    await conn.send('after restart');
    await until(() => seen.length === 2, 'event after restart');
    expect(seen).toEqual([1, 2]);
  });
});

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

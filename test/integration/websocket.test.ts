import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { webSocketTransport } from '../../adapters/websocket.js';
import { connect, recordStates, startServer, until } from './wire.js';

const transport = (url: string | (() => Promise<string>)) => webSocketTransport({ url, WebSocket });

describe('WebSocket adapter against the reference server', () => {
  it('R1 order and no loss across dropped links', async () => {
    const { server, listening, received } = await startServer();
    const conn = connect({ transport: transport(listening.wsUrl) });
    const sends = Array.from({ length: 200 }, (_, i) => conn.send(i, { id: `m${i}` }));
    for (let k = 0; k < 4; k++) {
      await until(() => received.length > 40 * (k + 1), 'progress');
      server.faults.dropAll();
    }
    await Promise.all(sends);
    expect(received.map((m) => m.data)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('R2 the resume finishes before the first send on a new link (the server sees resume first)', async () => {
    const order: string[] = [];
    const { server, listening } = await startServer({ onMessage: () => order.push('send') });
    server.publish('a', 'old');
    const conn = connect({ transport: transport(listening.wsUrl) });
    const seen: unknown[] = [];
    conn.on('message', (data) => {
      order.push('event');
      seen.push(data);
    });
    conn.watch('a');
    await conn.send('x');
    expect(order).toEqual(['event', 'send']);
    expect(seen).toEqual(['old']);
  });

  it('R7 a resend after a lost ack carries the same id and reaches onMessage once', async () => {
    let first = true;
    const { listening, received } = await startServer({
      // The server handles the message, then its socket dies before the ack goes out.
      onMessage: (message, connection) => {
        if (message.id === 'same' && first) {
          first = false;
          connection.drop();
        }
      },
    });
    const conn = connect({ transport: transport(listening.wsUrl) });
    const states = recordStates(conn);
    await conn.send('once', { id: 'same' });
    await conn.send('next', { id: 'next' });
    expect(states).toContain('reconnecting');
    expect(received.map((m) => m.id)).toEqual(['same', 'next']);
  });

  it('R11 a nack rejects that message and the link stays', async () => {
    const { listening } = await startServer({
      onMessage: (m) => {
        if (m.id === 'bad') throw new Error('not allowed');
      },
    });
    const conn = connect({ transport: transport(listening.wsUrl) });
    await until(() => conn.state === 'open', 'open');
    const states = recordStates(conn);
    await expect(conn.send('b', { id: 'bad' })).rejects.toMatchObject({
      reason: 'rejected',
      cause: 'not allowed',
    });
    await conn.send('g', { id: 'good' });
    expect(states).toEqual([]);
  });

  it('R12 a failing server drops the socket and the message is resent', async () => {
    const { server, listening, received } = await startServer();
    const conn = connect({ transport: transport(listening.wsUrl) });
    await until(() => conn.state === 'open', 'open');
    server.faults.failNextSends(2);
    await conn.send('x', { id: 'x' });
    expect(received.map((m) => m.id)).toEqual(['x']);
  });

  it('R13 the suspend notice is sent once', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: transport(listening.wsUrl) });
    await until(() => conn.state === 'open', 'open');
    const [connection] = server.connections.values();
    conn.suspend();
    conn.suspend();
    await until(() => (connection?.suspends ?? 0) > 0, 'suspend notice');
    await until(() => server.connections.size === 0, 'link closed');
    expect(connection?.suspends).toBe(1);
  });

  it('R15 a silent server is detected and the connection comes back', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: transport(listening.wsUrl), heartbeatTimeoutMs: 200 });
    const errors: string[] = [];
    conn.on('error', (e) => errors.push(e.kind));
    await until(() => conn.state === 'open', 'open');
    server.faults.silence(true);
    await until(() => errors.includes('timeout'), 'heartbeat timeout');
    server.faults.silence(false);
    await until(() => conn.state === 'open', 'open again');
  });

  it('R17 the url function is called on every attempt; close codes 4000–4099 are fatal', async () => {
    let allowed = true;
    const { server, listening } = await startServer({ authorize: () => allowed });
    let calls = 0;
    const conn = connect({
      transport: transport(async () => {
        calls++;
        return listening.wsUrl;
      }),
    });
    await until(() => conn.state === 'open', 'open');
    server.faults.dropAll();
    await until(() => calls === 2 && conn.state === 'open', 'second link');
    const errors: Array<[string, number | undefined]> = [];
    conn.on('error', (e) => errors.push([e.kind, e.code]));
    allowed = false;
    server.faults.dropAll();
    await until(() => conn.state === 'closed', 'closed');
    expect(errors.at(-1)).toEqual(['fatal', 4001]);
  });

  it('R18 a reconnect replays from the last position; duplicates are filtered', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: transport(listening.wsUrl) });
    const seen: unknown[] = [];
    conn.on('message', (d) => seen.push(d));
    conn.watch('feed');
    await until(() => conn.state === 'open', 'open');
    server.publish('feed', 1);
    server.publish('feed', 2);
    await until(() => seen.length === 2, 'two events');
    server.faults.dropAll();
    server.publish('feed', 3);
    await until(() => seen.length === 3, 'replayed event');
    expect(seen).toEqual([1, 2, 3]);
    expect(conn.positions()).toEqual([{ stream: 'feed', seq: 3 }]);
  });

  it('names the missing WebSocket option where there is no global', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    global.WebSocket = undefined;
    try {
      expect(() => webSocketTransport({ url: 'ws://x' })).toThrow(/pass the WebSocket option/);
    } finally {
      global.WebSocket = saved;
    }
  });
});

import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { webSocketTransport } from '../../adapters/websocket.js';
import { connect, recordStates, startServer, until } from './wire.js';

const transport = (url: string | (() => Promise<string>)) => webSocketTransport({ url, WebSocket });

describe('WebSocket adapter against the reference server', () => {
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

  it('R17 the url function is called on every attempt; credentials refused (4001) twice in a row close as auth', async () => {
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
    // Dropped, then refused: tried once more at once with a fresh url, refused again.
    expect(errors).toEqual([
      ['link', 1006],
      ['link', 4001],
      ['auth', 4001],
    ]);
    expect(calls).toBe(4);
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

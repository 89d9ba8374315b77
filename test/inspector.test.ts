/** The `inspect` option with the Stately inspector's WebSocket transport (@statelyai/inspect). */
import type { AddressInfo } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createMemoryServer } from '../adapters/memory.js';
import { createConnection } from '../src/index.js';
import { until } from './integration/wire.js';

describe('inspector', () => {
  it('receives the machine definition and the snapshots as the connection moves', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    const received: Array<{ type: string; definition?: string; snapshot?: { value?: unknown } }> =
      [];
    wss.on('connection', (socket) =>
      socket.on('message', (raw) => received.push(JSON.parse(String(raw)))),
    );
    const { port } = wss.address() as AddressInfo;
    const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
    const server = createMemoryServer({ heartbeatMs: 0 });
    const conn = createConnection({ transport: server.transport(), inspect: inspector.inspect });
    try {
      await until(() => conn.state === 'open', 'open');
      conn.suspend();
      const values = () =>
        received
          .filter((e) => e.type === '@xstate.snapshot')
          .map((e) => JSON.stringify(e.snapshot?.value));
      await until(
        () => values().includes('"suspended"'),
        'the suspended snapshot reaches the inspector',
      );
      const actor = received.find(
        (e) => e.type === '@xstate.actor' && e.definition?.includes('"holdfast"'),
      );
      expect(actor, 'the machine definition').toBeDefined();
      expect(values()).toContain(JSON.stringify({ open: 'heartbeat' }));
    } finally {
      conn.close();
      inspector.stop();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});

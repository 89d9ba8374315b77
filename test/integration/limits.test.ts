/**
 * The limits both ends agree on: a message the client lets through at its own
 * `maxMessageBytes` (1 MiB of JSON by default) fits the reference server's default body
 * and frame limit, on both wires, and so does the message in flight beside it.
 */
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import { connect, startServer } from './wire.js';

describe.each(['websocket', 'sse'] as const)('%s with default limits', (wire) => {
  it('a message of exactly maxMessageBytes of JSON, and its neighbour, are delivered', async () => {
    const { listening, received } = await startServer();
    const transport =
      wire === 'websocket'
        ? webSocketTransport({ url: listening.wsUrl, WebSocket })
        : sseTransport({ url: listening.sseUrl, EventSource });
    const conn = connect({ transport });
    // 1,048,576 bytes of JSON: the string and its two quotes.
    const big = 'x'.repeat(1_048_576 - 2);
    await Promise.all([conn.send(big, { id: 'big' }), conn.send('small', { id: 'small' })]);
    expect(received.map((m) => m.id)).toEqual(['big', 'small']);
    await expect(conn.send(`${big}y`, { id: 'over' })).rejects.toMatchObject({
      reason: 'too-large',
      sent: false,
    });
  });
});

/**
 * A client that watches many streams against a server with a small frame limit: the
 * machine cuts its resume into requests of 100 streams (issue 11 item 12), so neither
 * wire refuses it, and every request is answered before the first send.
 */
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import { connect, startServer, until } from './wire.js';

const STREAMS = 2000;

describe.each(['websocket', 'sse'] as const)('%s: a connection watching 2,000 streams', (wire) => {
  it('works against a server whose frames and bodies may be 8 KiB at most', async () => {
    const { server, listening, received } = await startServer({
      maxBodyBytes: 8 * 1024,
      maxStreamsPerConnection: STREAMS,
    });
    const transport =
      wire === 'websocket'
        ? webSocketTransport({ url: listening.wsUrl, WebSocket })
        : sseTransport({ url: listening.sseUrl, EventSource });
    const conn = connect({ transport });
    const messages: unknown[] = [];
    conn.on('message', (data) => messages.push(data));
    for (let i = 0; i < STREAMS; i++) conn.watch(`stream-${i}`);
    await conn.send('after the resume', { id: 'm1' });
    expect(received.map((m) => m.id)).toEqual(['m1']);
    const [connection] = server.connections.values();
    expect(connection?.streams.size).toBe(STREAMS);
    server.publish(`stream-${STREAMS - 1}`, 'to the last one');
    await until(() => messages.length === 1, 'the frame of the last stream');
    expect(messages).toEqual(['to the last one']);
  });
});

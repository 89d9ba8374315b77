/**
 * A lost ack across a server restart, over both wires (issue 12): the server handles a
 * message, then restarts before its ack leaves. A server that remembers sessions sees the
 * resend as a duplicate; one that forgets them (a crash) makes the client report
 * `session-lost`, and `onSessionLost` decides between resending and rejecting.
 */
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import type { Transport } from '../../adapters/transport.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import type { ConnectionError, DeliveryError } from '../../src/index.js';
import type { Listening, ReferenceServer } from '../../src/server/index.js';
import { connect, startServer, until } from './wire.js';

const adapters: Array<[string, (l: Listening) => Transport]> = [
  ['websocket', (l) => webSocketTransport({ url: l.wsUrl, WebSocket })],
  ['sse', (l) => sseTransport({ url: l.sseUrl, EventSource })],
];

const COUNT = 20;
const LOST_ACK = 10;

/**
 * A server that restarts while it hands message 10 to its app: the app has it, the link
 * is gone before the ack is written. `keepState: false` forgets sessions like a crash.
 */
async function restartingOnTen(keepState: boolean) {
  let server: ReferenceServer | undefined;
  let restarted = false;
  const started = await startServer({
    onMessage: ({ data }) => {
      if (data !== LOST_ACK || restarted) return;
      restarted = true;
      void server?.faults.restart({ keepState });
    },
  });
  server = started.server;
  return { ...started, wasRestarted: () => restarted };
}

function sendAll(conn: ReturnType<typeof connect>) {
  const confirmed = new Set<number>();
  const sends = Array.from({ length: COUNT }, (_, i) =>
    conn.send(i, { id: `m${i}` }).then(
      () => {
        confirmed.add(i);
        return 'ok';
      },
      (e: DeliveryError) => `${e.reason}${e.sent ? ', sent' : ''}`,
    ),
  );
  return { confirmed, outcomes: Promise.all(sends) };
}

function recordErrors(conn: ReturnType<typeof connect>) {
  const errors: ConnectionError[] = [];
  conn.on('error', (e) => errors.push(e));
  return errors;
}

const arrivals = (received: Array<{ data: unknown }>) => received.map((m) => m.data as number);
const everyMessage = Array.from({ length: COUNT }, (_, i) => i);

describe.each(adapters)('%s: a lost ack across a restart', (_name, transportFor) => {
  it('R21 a server that remembers sessions sees the resend as a duplicate its app never gets', async () => {
    const { listening, received, wasRestarted } = await restartingOnTen(true);
    const conn = connect({ transport: transportFor(listening) });
    const errors = recordErrors(conn);
    const { outcomes } = sendAll(conn);
    expect(await outcomes).toEqual(everyMessage.map(() => 'ok'));
    expect(wasRestarted()).toBe(true);
    expect(arrivals(received)).toEqual(everyMessage);
    expect(errors.map((e) => e.kind)).not.toContain('session-lost');
  });

  it("R22 a server that forgets them: session-lost names how many; 'resend' sends exactly those again", async () => {
    const { listening, received } = await restartingOnTen(false);
    const conn = connect({ transport: transportFor(listening) });
    const errors = recordErrors(conn);
    const { confirmed, outcomes } = sendAll(conn);
    let unconfirmedThen = -1;
    conn.on('error', (e) => {
      if (e.kind === 'session-lost') unconfirmedThen = COUNT - confirmed.size;
    });
    expect(await outcomes).toEqual(everyMessage.map(() => 'ok'));
    const lost = errors.filter((e) => e.kind === 'session-lost');
    expect(lost).toHaveLength(1);
    const affected = lost[0]?.count ?? 0;
    // Message 10 was handled and never confirmed: it is among them, and so arrives twice.
    expect(affected).toBeGreaterThanOrEqual(1);
    expect(affected).toBeLessThanOrEqual(unconfirmedThen);
    const seen = arrivals(received);
    expect(seen.filter((n) => n === LOST_ACK)).toHaveLength(2);
    // Everything arrives, first arrivals in order; only the affected may arrive twice.
    expect([...new Set(seen)]).toEqual(everyMessage);
    expect(seen.length - COUNT).toBeLessThanOrEqual(affected);
    const firstUnconfirmed = COUNT - unconfirmedThen;
    for (const n of seen.slice(seen.lastIndexOf(LOST_ACK)))
      expect(n).toBeGreaterThanOrEqual(firstUnconfirmed);
  });

  it("R22 with 'reject', exactly the affected messages are rejected as unconfirmed (sent); the app never gets one twice", async () => {
    const { listening, received } = await restartingOnTen(false);
    const conn = connect({ transport: transportFor(listening), onSessionLost: 'reject' });
    const errors = recordErrors(conn);
    const { outcomes } = sendAll(conn);
    const results = await outcomes;
    const lost = errors.filter((e) => e.kind === 'session-lost');
    expect(lost).toHaveLength(1);
    const rejected = everyMessage.filter((i) => results[i] !== 'ok');
    expect(rejected.map((i) => results[i])).toEqual(rejected.map(() => 'unconfirmed, sent'));
    expect(rejected).toHaveLength(lost[0]?.count ?? -1);
    expect(rejected).toContain(LOST_ACK);
    const seen = arrivals(received);
    // At most once: nothing twice. Every confirmed message arrived, in order.
    expect(seen).toEqual([...new Set(seen)]);
    const confirmed = everyMessage.filter((i) => results[i] === 'ok');
    expect(seen.filter((n) => confirmed.includes(n))).toEqual(confirmed);
  });
});

describe.each(adapters)('%s: a stream log that started over', (_name, transportFor) => {
  it('R23 a restart that loses the logs is reported as reset once per stream; the new log is delivered from seq 1', async () => {
    const { server, listening } = await startServer();
    for (let i = 1; i <= 5; i++) server.publish('chat', `old ${i}`);
    const conn = connect({ transport: transportFor(listening) });
    const errors = recordErrors(conn);
    const got: unknown[] = [];
    conn.on('message', (data) => got.push(data));
    conn.watch('chat');
    await until(() => got.length === 5, 'the old log');
    const [before] = conn.positions();
    await server.faults.restart({ keepState: false });
    server.publish('chat', 'new 1');
    server.publish('chat', 'new 2');
    await until(() => got.length === 7, 'the new log');
    expect(got).toEqual(['old 1', 'old 2', 'old 3', 'old 4', 'old 5', 'new 1', 'new 2']);
    const resets = errors.filter((e) => e.kind === 'reset');
    expect(resets.map((e) => e.stream)).toEqual(['chat']);
    const [after] = conn.positions();
    expect(after).toMatchObject({ stream: 'chat', seq: 2 });
    expect(after?.epoch).toEqual(expect.any(String));
    expect(after?.epoch).not.toBe(before?.epoch);
  });
});

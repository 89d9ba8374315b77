/**
 * The send path in bursts: in `open` the sends of one tick reach the machine as one
 * `send` event, and the verdicts of one tick as one `link.verdicts` event. These tests
 * pin what must not change with the batching: order, one report per message, and that
 * nothing the app sent is lost when something else happens in the same tick.
 */
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import { createConnection } from '../src/index.js';
import { harness, outcome, sendMany } from './support/harness.js';
import { manualTransport } from './support/manual-transport.js';
import { settle } from './support/settle.js';

function countEvents() {
  const counts = new Map<string, number>();
  const inspect = (event: InspectionEvent) => {
    if (event.type !== '@xstate.event') return;
    const type = event.event.type as string;
    counts.set(type, (counts.get(type) ?? 0) + 1);
  };
  return { counts, inspect };
}

describe('the send path in bursts', () => {
  it('a burst of sends in open is one machine event, and a window of verdicts is one more', async () => {
    const server = createMemoryServer({ heartbeatMs: 0, record: true });
    const { counts, inspect } = countEvents();
    const conn = createConnection({ transport: server.transport({ maxInFlight: 64 }), inspect });
    await settle();
    expect(conn.state).toBe('open');
    counts.clear();
    const sends = Array.from({ length: 640 }, (_, i) => conn.send(i));
    await Promise.all(sends);
    expect(server.received.map((m) => m.data)).toEqual(Array.from({ length: 640 }, (_, i) => i));
    expect(counts.get('send')).toBe(1);
    // One event per window of 64 verdicts that come back in the same tick.
    expect(counts.get('link.verdicts')).toBeLessThanOrEqual(640 / 64 + 1);
    conn.close();
  });

  it('verdicts of one tick settle their promises in the order the server gave them', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 8 });
    await settle();
    expect(h.conn.state).toBe('open');
    const settled: string[] = [];
    const sends = sendMany(h.conn, 3).map((p, i) =>
      p.then(
        () => settled.push(`m${i + 1} ok`),
        (e) => settled.push(`m${i + 1} ${e.reason}`),
      ),
    );
    await settle();
    const [a, b, c] = h.server.current?.pendingSends ?? [];
    a?.answer('ok');
    b?.answer({ status: 'rejected', error: new Error('too big') });
    c?.answer('ok');
    await Promise.all(sends);
    expect(settled).toEqual(['m1 ok', 'm2 rejected', 'm3 ok']);
    expect(h.dropped.map((e) => e.messageId)).toEqual(['m2']);
    expect(h.conn.state).toBe('open');
  });

  it('sends made just before close() in the same tick are rejected as closed, each reported', async () => {
    const h = harness({ maxInFlight: 8 });
    await settle();
    const sends = sendMany(h.conn, 3).map(outcome);
    h.conn.close();
    await settle();
    expect(sends.map((s) => s.value)).toEqual(['closed', 'closed', 'closed']);
    expect(h.dropped.map((e) => e.messageId)).toEqual(['m1', 'm2', 'm3']);
  });

  it('sends of a tick the server ends for good are rejected as closed and reported, never lost', async () => {
    const t = manualTransport();
    const conn = createConnection({ transport: t.transport });
    const dropped: string[] = [];
    conn.on('dropped', (e) => dropped.push(`${e.messageId} ${e.reason}`));
    t.links[0]?.events.open();
    await settle();
    expect(conn.state).toBe('open');
    const first = outcome(conn.send('a', { id: 'a' }));
    await settle();
    const second = outcome(conn.send('b', { id: 'b' }));
    // The fatal close reaches the machine before the burst holding `b` is handed over.
    t.close(0, { fatal: true, code: 4001 });
    await settle();
    expect(conn.state).toBe('closed');
    expect([first.value, second.value]).toEqual(['closed', 'closed']);
    expect(dropped).toEqual(['a closed', 'b closed']);
  });

  it('a message aborted in the tick it was sent is withdrawn while it still waits for the window', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 1 });
    await settle();
    const first = outcome(h.conn.send('1', { id: 'm1' }));
    const controller = new AbortController();
    const second = outcome(h.conn.send('2', { id: 'm2', signal: controller.signal }));
    controller.abort();
    await settle();
    expect(second.value).toBe('aborted');
    expect(h.server.current?.pendingSends.map((s) => s.message.id)).toEqual(['m1']);
    h.server.current?.pendingSends[0]?.answer('ok');
    await settle();
    expect(first.value).toBe('ok');
  });

  it('messages sent to the actor directly, without a promise behind them, are delivered and reported', async () => {
    const h = harness({ maxInFlight: 8 });
    await settle();
    h.conn.actor.send({ type: 'send', data: 'plain', id: 'direct' });
    h.conn.actor.send({ type: 'send', data: 'tagged', id: 'foreign', tag: { mine: true } });
    const mine = outcome(h.conn.send('mine', { id: 'mine' }));
    await settle();
    expect(h.received()).toEqual(['direct', 'foreign', 'mine']);
    expect(mine.value).toBe('ok');
    expect(h.dropped).toEqual([]);
  });
});

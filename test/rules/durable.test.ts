/**
 * The durable outbox in the machine and `createConnection` (durable.md D1–D3, D5): saved
 * before sent, removed when settled, restored in order on the next start, one owner at a
 * time. A memory server and a `memoryStore()` whose writes the test holds back, on one
 * simulated clock. D4, D6 and D7 are in durable-failures.test.ts; a restart is a
 * connection stopped without `close()` (its process died) and a new one on the store.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryServer } from '../../adapters/memory.js';
import type { OutboxStore } from '../../adapters/store.js';
import { memoryStore, outboxStore } from '../../src/durable.js';
import type { ConnectionError, RestoredMessage } from '../../src/index.js';
import { harness, outcome } from '../support/harness.js';
import { heldStore } from '../support/held-store.js';
import { settle } from '../support/settle.js';

/** Every message the store holds, by id, with whether it is saved as sent. */
function held(store: { snapshot(): { messages: readonly { id: string; sent: boolean }[] } }) {
  return store
    .snapshot()
    .messages.map(({ id, sent }) => `${id}:${sent ? 'sent' : 'unsent'}`)
    .sort();
}

describe('D1 saved before sent', () => {
  it('D1 a message goes on the wire only once the store holds it', async () => {
    const store = heldStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    expect(h.conn.state).toBe('open');
    store.hold();
    const sent = outcome(h.conn.send('a', { id: 'a' }));
    await h.advance(10);
    expect(h.sentOn(0)).toEqual([]);
    expect(store.held).toBe(1);
    await store.release();
    await h.advance(0);
    expect(h.sentOn(0)).toEqual(['a']);
    expect(sent.value).toBe('ok');
  });

  it('D1 the sends of one tick are one store write', async () => {
    const store = heldStore();
    const h = harness({ connection: { store }, maxInFlight: 64 });
    await h.advance(0);
    const before = store.batches.length;
    const sends = Array.from({ length: 50 }, (_, i) => h.conn.send(i, { id: `m${i}` }));
    await h.advance(0);
    await Promise.all(sends);
    const puts = store.batches.slice(before).filter((batch) => (batch.put?.length ?? 0) > 0);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.put).toHaveLength(50);
    expect(h.received()).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  it('D1 a message sent offline is saved at once as unsent, and saved as sent before it goes out', async () => {
    const store = heldStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    h.conn.suspend();
    await h.advance(0);
    const sent = outcome(h.conn.send('a', { id: 'a' }));
    await h.advance(0);
    expect(held(store)).toEqual(['a:unsent']);
    store.hold();
    h.conn.resume();
    await h.advance(0);
    expect(h.server.links.at(-1)?.log.some((r) => r.kind === 'send')).toBe(false);
    await store.release();
    await h.advance(0);
    expect(h.received()).toEqual(['a']);
    expect(sent.value).toBe('ok');
  });

  it('D1 a message dropped before it was ever sent holds back later ones until its removal is saved', async () => {
    const store = heldStore();
    const h = harness({ connection: { store }, server: { behaviour: { send: 'hold' } } });
    await h.advance(0);
    h.conn.send('x', { id: 'x' });
    await h.advance(0);
    const abort = new AbortController();
    const a = outcome(h.conn.send('a', { id: 'a', signal: abort.signal }));
    h.conn.send('b', { id: 'b' });
    await h.advance(0);
    expect(h.sentOn(0)).toEqual(['x']);
    store.hold();
    abort.abort();
    h.server.links[0]?.pendingSends[0]?.answer('ok');
    await h.advance(0);
    expect(a.value).toBe('aborted');
    // Were b sent now and the process killed, a would come back below b's serial and be
    // answered as a duplicate the server never had.
    expect(h.sentOn(0)).toEqual(['x']);
    await store.release();
    await h.advance(0);
    expect(h.sentOn(0)).toEqual(['x', 'b']);
  });

  it('D1 serials are reserved in blocks, saved with the first message above the last block', async () => {
    const store = heldStore();
    const h = harness({ connection: { store }, maxInFlight: 8 });
    await h.advance(0);
    await Promise.all([h.conn.send(1), h.conn.send(2)]);
    expect(store.snapshot().reserved).toBe(1000);
    const reservations = store.batches.filter((b) => b.reserved !== undefined);
    expect(reservations).toHaveLength(1);
  });
});

describe('D2 removed when settled', () => {
  it('D2 a confirmed message and a rejected one both leave the store', async () => {
    const store = memoryStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    const ok = h.conn.send('a', { id: 'a' });
    await h.advance(0);
    await ok;
    h.server.behave({ send: 'rejected' });
    const refused = outcome(h.conn.send('b', { id: 'b' }));
    await h.advance(0);
    expect(refused.value).toBe('rejected');
    await h.advance(0);
    expect(store.snapshot().messages).toEqual([]);
  });

  it('D2 an aborted message and an overflowed one leave the store', async () => {
    const store = memoryStore();
    const h = harness({ connection: { store, maxQueue: 2, overflow: 'drop-oldest' } });
    await h.advance(0);
    h.conn.suspend();
    await h.advance(0);
    const abort = new AbortController();
    const aborted = outcome(h.conn.send('a', { id: 'a', signal: abort.signal }));
    const oldest = outcome(h.conn.send('b', { id: 'b' }));
    await h.advance(0);
    expect(held(store)).toEqual(['a:unsent', 'b:unsent']);
    abort.abort();
    h.conn.send('c', { id: 'c' });
    h.conn.send('d', { id: 'd' });
    await h.advance(0);
    expect(aborted.value).toBe('aborted');
    expect(oldest.value).toBe('overflow');
    expect(held(store)).toEqual(['c:unsent', 'd:unsent']);
  });
});

describe('D3 restored in order', () => {
  it('D3 a restart restores the session and the unsettled messages, and sends them before anything new', async () => {
    const store = memoryStore();
    const server = createMemoryServer({ record: true, heartbeatMs: 0 });
    const first = harness({ connection: { store, transport: server.transport() } });
    await first.advance(0);
    first.conn.suspend();
    first.conn.send('a', { id: 'a' });
    first.conn.send('b', { id: 'b' });
    await first.advance(0);
    const session = first.conn.session;
    // The process dies: no close(), the store keeps what it holds.
    first.conn.actor.stop();
    await store.close();

    const second = harness({ connection: { store, transport: server.transport() } });
    const restored: RestoredMessage[][] = [];
    second.conn.on('restored', (messages) => restored.push([...messages]));
    const late = second.conn.send('c', { id: 'c' });
    await second.advance(0);
    await late;
    expect(restored.map((list) => list.map((m) => [m.id, m.data]))).toEqual([
      [
        ['a', 'a'],
        ['b', 'b'],
      ],
    ]);
    await Promise.all(restored[0]?.map((m) => m.settled) ?? []);
    expect(second.conn.session).toBe(session);
    expect(server.received.map((m) => [m.id, m.serial])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 1001],
    ]);
    expect(store.snapshot().messages).toEqual([]);
  });

  it('D3 restored fires once even when the store held nothing, and never without a store', async () => {
    const withStore = harness({ connection: { store: memoryStore() } });
    const without = harness();
    const calls: number[] = [];
    withStore.conn.on('restored', (m) => calls.push(m.length));
    without.conn.on('restored', (m) => calls.push(m.length + 100));
    await withStore.advance(0);
    await without.advance(0);
    withStore.conn.suspend();
    withStore.conn.resume();
    await withStore.advance(0);
    expect(calls).toEqual([0]);
  });

  it('D3 the connection stays in connecting, with no link, until the store opened', async () => {
    const store = memoryStore();
    const owner = await store.open();
    expect(owner.status).toBe('open');
    const h = harness({ connection: { store } });
    await h.advance(1000);
    expect(h.conn.state).toBe('connecting');
    expect(h.server.links).toHaveLength(0);
    await store.close();
    await h.advance(0);
    expect(h.conn.state).toBe('open');
  });

  it('D3 serials go on above the reservation after a restart, never reusing one', async () => {
    const store = memoryStore();
    const server = createMemoryServer({ record: true, heartbeatMs: 0 });
    const first = harness({ connection: { store, transport: server.transport() } });
    await first.advance(0);
    await Promise.all([first.conn.send('a'), first.conn.send('b')]);
    expect(store.snapshot().messages).toEqual([]);
    first.conn.actor.stop();
    await store.close();
    const second = harness({ connection: { store, transport: server.transport() } });
    await second.advance(0);
    await second.conn.send('c');
    expect(server.received.map((m) => m.serial)).toEqual([1, 2, 1001]);
    expect(server.received.map((m) => m.data)).toEqual(['a', 'b', 'c']);
  });

  it('D3 records a store could not read are reported once, and the good ones restored', async () => {
    const store = memoryStore();
    const bad = {
      open: async () => ({
        status: 'open' as const,
        outbox: {
          session: 'a-session-of-22-chars0',
          reserved: 5,
          messages: [
            { id: 'good', serial: 3, json: '"g"', retry: true, sent: true },
            { id: 'torn', serial: 'x', json: '"t"', retry: true, sent: true },
            { id: 'junk', serial: 4, json: '{not json', retry: true, sent: false },
            null,
          ],
          positions: [{ stream: 's', seq: -1 }],
          problems: ['line 7 of the file: its checksum does not match; skipped.'],
        },
      }),
      write: (batch: never) => store.write(batch),
      close: async () => {},
    } as unknown as OutboxStore;
    await store.open();
    const h = harness({ connection: { store: outboxStore(bad) } });
    const restored: string[] = [];
    h.conn.on('restored', (messages) => restored.push(...messages.map((m) => m.id)));
    await h.advance(0);
    expect(restored).toEqual(['good']);
    const reports = h.errors.filter((e: ConnectionError) => e.kind === 'store');
    expect(reports).toHaveLength(1);
    expect(reports[0]?.count).toBe(5);
    expect(reports[0]?.message).toMatch(/checksum/);
    expect(h.received()).toEqual(['good']);
    expect(h.conn.state).toBe('open');
  });
  it('D3 a restored notice (retry false) that may have been sent is rejected as not-retried, never sent again', async () => {
    const store = memoryStore();
    const server = createMemoryServer({ record: true, heartbeatMs: 0 });
    const first = harness({
      connection: { store, transport: server.transport({ maxInFlight: 1 }) },
    });
    await first.advance(0);
    server.behave({ send: 'hold' });
    first.conn.send('typing', { id: 'typing', retry: false });
    first.conn.send('queued-notice', { id: 'queued-notice', retry: false });
    await first.advance(0);
    expect(store.snapshot().messages.map((m) => [m.id, m.sent])).toEqual([
      ['typing', true],
      ['queued-notice', false],
    ]);
    first.conn.actor.stop();
    await store.close();
    server.behave({ send: 'ok' });
    const second = harness({ connection: { store, transport: server.transport() } });
    const settled: Record<string, string> = {};
    second.conn.on('restored', (messages) => {
      for (const m of messages)
        m.settled.then(
          () => {
            settled[m.id] = 'ok';
          },
          (error) => {
            settled[m.id] = error.reason;
          },
        );
    });
    await second.advance(0);
    // The first was on the wire; the second waited behind it (window 1), never sent.
    expect(settled).toEqual({ typing: 'not-retried', 'queued-notice': 'ok' });
    expect(server.received.map((m) => m.id)).toEqual(['queued-notice']);
  });
});

describe('D3 positions', () => {
  it('D3 a stream watched without a position before the store opened goes on from the stored one; one watched at a position keeps it', async () => {
    const store = memoryStore();
    await store.open();
    await store.write({
      positions: [
        { stream: 'feed', seq: 5, epoch: 'e1' },
        { stream: 'mine', seq: 7 },
        { stream: 'other', seq: 2 },
      ],
    });
    await store.close();
    // No link is greeted: the positions are the restored ones, no server's resume yet.
    const h = harness({ connection: { store }, server: { behaviour: { connect: 'hold' } } });
    h.conn.watch('feed');
    h.conn.watch('mine', 3);
    await h.advance(0);
    expect(h.conn.positions()).toEqual([
      { stream: 'feed', seq: 5, epoch: 'e1' },
      { stream: 'mine', seq: 3 },
      { stream: 'other', seq: 2 },
    ]);
    // Once the store opened, a watch without a position starts at 0 as always.
    h.conn.unwatch('other');
    h.conn.watch('late');
    expect(h.conn.positions().find((p) => p.stream === 'late')?.seq).toBe(0);
  });
});

describe('D5 one owner', () => {
  it('D5 a second connection on an owned store reports store-busy once, queues, and takes over what the owner left when it closes', async () => {
    const store = memoryStore();
    const server = createMemoryServer({ record: true, heartbeatMs: 0 });
    const owner = harness({ connection: { store, transport: server.transport() } });
    await owner.advance(0);
    owner.conn.suspend();
    owner.conn.send('left', { id: 'left' });
    await owner.advance(0);

    const second = harness({ connection: { store, transport: server.transport() } });
    const restored: string[] = [];
    second.conn.on('restored', (messages) => restored.push(...messages.map((m) => m.id)));
    const queued = outcome(second.conn.send('new', { id: 'new' }));
    await second.advance(5000);
    expect(second.conn.state).toBe('connecting');
    expect(second.errors.map((e) => e.kind)).toEqual(['store-busy']);
    // The owner stops without close(): its process died, and the store was let go.
    owner.conn.actor.stop();
    await settle();
    expect(store.owned).toBe(true);
    expect(restored).toEqual(['left']);
    await second.advance(0);
    expect(second.conn.state).toBe('open');
    expect(queued.value).toBe('ok');
    expect(server.received.map((m) => m.id)).toEqual(['left', 'new']);
    expect(second.errors.map((e) => e.kind)).toEqual(['store-busy']);
  });
});

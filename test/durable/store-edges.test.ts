/**
 * The durable outbox at its edges (durable.md), one test per bug an adversarial review of
 * the wiring found: what restore settles is removed, a waiter never takes a shared store
 * from its owner, a failed save is never silent, ids stay unique across a restart, and
 * what a hanging store can make grow stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryServer } from '../../adapters/memory.js';
import type { OutboxStore, StoredMessage } from '../../adapters/store.js';
import { memoryStore, outboxStore } from '../../src/durable.js';
import { harness, outcome } from '../support/harness.js';
import { heldStore } from '../support/held-store.js';
import { settle } from '../support/settle.js';

const SESSION = 'review-session-000000';

/** A memory store that already holds these messages (a previous process left them). */
async function prefilled(messages: StoredMessage[], reserved = 1000) {
  const store = memoryStore();
  await store.open();
  await store.write({ session: SESSION, reserved, put: messages });
  await store.close();
  return store;
}

const msg = (id: string, serial: number, sent: boolean, retry = true): StoredMessage => ({
  id,
  serial,
  json: JSON.stringify(id),
  retry,
  sent,
});

const ids = (store: { snapshot(): { messages: readonly { id: string }[] } }) =>
  store
    .snapshot()
    .messages.map((m) => m.id)
    .sort();

describe('removals of what the restore settles', () => {
  it('a restored message past maxQueue is rejected as overflow and removed from the store', async () => {
    const store = await prefilled([msg('r1', 1, false), msg('r2', 2, false), msg('r3', 3, false)]);
    const h = harness({ connection: { store, maxQueue: 2 } });
    await h.advance(0);
    await h.advance(0);
    expect(h.dropped.map((e) => [e.messageId, e.reason])).toEqual([['r3', 'overflow']]);
    expect(ids(store)).toEqual([]);
  });

  it('a send rejected as overflow when the store opens is never saved', async () => {
    const store = await prefilled([msg('r1', 1, false), msg('r2', 2, false)]);
    const server = createMemoryServer({ record: true, heartbeatMs: 0 });
    const first = harness({ connection: { store, maxQueue: 2, transport: server.transport() } });
    first.conn.suspend();
    const x = outcome(first.conn.send('x', { id: 'x' }));
    await first.advance(0);
    await first.advance(0);
    expect(x.value).toBe('overflow'); // the app was told: x will not be delivered
    first.conn.actor.stop(); // the process dies
    await settle();
    const second = harness({ connection: { store, maxQueue: 10, transport: server.transport() } });
    await second.advance(0);
    await second.advance(0);
    expect(server.received.map((m) => m.id)).not.toContain('x');
  });

  it('a restored notice rejected as not-retried is removed from the store', async () => {
    const store = await prefilled([msg('notice', 1, true, false)]);
    const h = harness({ connection: { store } });
    await h.advance(0);
    await h.advance(0);
    expect(h.dropped.map((e) => e.reason)).toEqual(['not-retried']);
    expect(ids(store)).toEqual([]);
  });
});

describe('one owner of a shared store', () => {
  it('close() right after createConnection lets the store go once: the next owner keeps it', async () => {
    const store = memoryStore();
    const a = harness({ connection: { store } });
    a.conn.close();
    const b = harness({ connection: { store } });
    await b.advance(0);
    await b.advance(0);
    expect(b.conn.state).toBe('open');
    expect(store.owned).toBe(true);
  });

  it('a connection that closes while it waits for a busy store withdraws its wait and never takes the store from its owner', async () => {
    const store = memoryStore();
    const server = createMemoryServer({ record: true, heartbeatMs: 0 });
    const owner = harness({ connection: { store, transport: server.transport() } });
    await owner.advance(0);
    const waiter = harness({ connection: { store, transport: server.transport() } });
    await waiter.advance(0);
    expect(waiter.errors.map((e) => e.kind)).toEqual(['store-busy']);
    waiter.conn.close();
    await settle();
    const third = harness({ connection: { store, transport: server.transport() } });
    await third.advance(0);
    await third.advance(0);
    const o = outcome(owner.conn.send('o1', { id: 'o1' }));
    const t = outcome(third.conn.send('t1', { id: 't1' }));
    await owner.advance(0);
    await third.advance(0);
    await settle();
    // The owner never closed: the third must still be waiting...
    // Both resolved ok under one session with serial 1: the server took t1 for a
    // duplicate of o1, so the app never saw it. Every ok must have reached the app:
    const confirmed = [
      ['o1', o.value],
      ['t1', t.value],
    ].filter(([, v]) => v === 'ok');
    expect(server.received.map((m) => m.id)).toEqual(confirmed.map(([id]) => id));
    // (and the owner never closed: the third should still be waiting)
    expect(third.conn.state).toBe('connecting');
  });
});

describe('store failures are loud', () => {
  it('a failed save of a message queued offline is reported and the message rejected', async () => {
    const store = memoryStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    h.conn.suspend();
    await h.advance(0);
    store.failWrites(true);
    const a = outcome(h.conn.send('a', { id: 'a' }));
    await h.advance(0);
    await h.advance(0);
    store.failWrites(false);
    expect(ids(store)).toEqual([]); // a crash now loses it...
    expect(a.value === 'store' || h.errors.some((e) => e.kind === 'store')).toBe(true); // ...and nobody was told
  });

  it('a failed save of a send behind a full window is reported and the message rejected', async () => {
    const store = memoryStore();
    const h = harness({ connection: { store }, server: { behaviour: { send: 'hold' } } });
    await h.advance(0);
    h.conn.send('a', { id: 'a' });
    await h.advance(0);
    expect(h.sentOn(0)).toEqual(['a']);
    store.failWrites(true);
    const b = outcome(h.conn.send('b', { id: 'b' }));
    await h.advance(0);
    store.failWrites(false);
    expect(ids(store)).toEqual(['a']);
    expect(b.value === 'store' || h.errors.some((e) => e.kind === 'store')).toBe(true);
  });

  it('a busy answer whose released promise rejects is asked again, never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const released = Promise.reject(new Error('lock manager went away'));
      released.catch(() => {}); // handled here: only the connection's own chain is unhandled
      const hostile = {
        open: async () => ({ status: 'busy', released }),
        write: async () => {},
        close: async () => {},
      } as unknown as OutboxStore;
      const h = harness({ connection: { store: outboxStore(hostile) } });
      await h.advance(0);
      await settle();
      await settle();
      expect(unhandled).toEqual([]);
      expect(h.errors.filter((e) => e.kind === 'store')).not.toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('ids', () => {
  it('an id settled and sent again in one tick is saved: a put after a removal of the same id wins', async () => {
    const store = heldStore();
    const h = harness({ connection: { store }, server: { behaviour: { send: 'hold' } } });
    await h.advance(0);
    store.hold();
    const abort = new AbortController();
    const first = outcome(h.conn.send('first', { id: 'a', signal: abort.signal }));
    await h.advance(0); // its save is on its way (held)
    abort.abort(); // withdrawn before it was ever sent: removal of 'a'
    await settle();
    expect(first.value).toBe('aborted');
    h.conn.send('second', { id: 'a' }); // the id is free again: a new message 'a'
    await h.advance(0);
    await store.release();
    await h.advance(0);
    await h.advance(0);
    expect(h.sentOn(0)).toEqual(['a']); // 'second' is on the wire...
    expect(ids(store)).toEqual(['a']); // ...so the store must hold it
  });

  it('send() with the id of a restored, still pending message is refused', async () => {
    const store = await prefilled([msg('a', 1, true)]);
    const h = harness({ connection: { store }, server: { behaviour: { send: 'hold' } } });
    await h.advance(0);
    await h.advance(0);
    expect(h.sentOn(0)).toEqual(['a']);
    const again = outcome(h.conn.send('a-again', { id: 'a' }));
    await settle();
    expect(again.value ?? 'accepted (pending)').toMatch(/TypeError|already pending/);
  });
});

describe('growth and cost', () => {
  it('a store that answers a list of 2³² − 1 messages is read to a bound and reported, never hangs', async () => {
    const huge = new Proxy([], {
      get: (target, key) =>
        key === 'length'
          ? 2 ** 32 - 1
          : typeof key === 'string' && /^\d+$/.test(key)
            ? { id: `h${key}`, serial: Number(key) + 1, json: '1', retry: true, sent: false }
            : Reflect.get(target, key),
    });
    const hostile = {
      open: async () => ({
        status: 'open',
        outbox: {
          session: undefined,
          reserved: 0,
          messages: huge,
          positions: huge,
          problems: [],
        },
      }),
      write: async () => {},
      close: async () => {},
    } as unknown as OutboxStore;
    const h = harness({ connection: { store: outboxStore(hostile), maxQueue: 10 } });
    const restored: number[] = [];
    h.conn.on('restored', (messages) => restored.push(messages.length));
    await h.advance(0);
    // maxQueue restored, the next 10,000 refused as overflow, the rest left in the store.
    expect(restored).toEqual([10_010]);
    expect(
      h.errors.some((e) => e.kind === 'store' && /more messages than can be read/.test(e.message)),
    ).toBe(true);
    expect(h.conn.state).toBe('open');
  });

  it('while a store write hangs, the removals kept for the next write stay bounded', async () => {
    const store = heldStore();
    const h = harness({ connection: { store, maxQueue: 1 } });
    await h.advance(0);
    h.conn.suspend();
    await h.advance(0);
    store.hold();
    h.conn.send('first', { id: 'first' });
    await h.advance(0);
    for (let i = 0; i < 12_000; i++) h.conn.send(i, { id: `n${i}` }).catch(() => {});
    await h.advance(0);
    await store.release();
    await settle();
    await settle();
    const largest = Math.max(...store.batches.map((b) => b.remove?.length ?? 0));
    // Those ids were never stored; the failure path itself keeps at most 10,000.
    expect(largest).toBeLessThanOrEqual(10_000);
  });

  it('D2 more than 10,000 confirmations while one removal write is slow are all removed by close: none is left to come back', async () => {
    const store = heldStore();
    const count = 12_000;
    const h = harness({ connection: { store, maxQueue: count }, maxInFlight: 64 });
    await h.advance(0);
    const sends = Array.from({ length: count }, (_, i) => h.conn.send(i, { id: `m${i}` }));
    // Saved as sent in one write; from then on the removal writes are held (a slow disk)
    // while the window goes on and every message is confirmed.
    store.hold();
    await Promise.resolve();
    await store.release();
    store.hold();
    for (let i = 0; i < 400; i++) await h.advance(0);
    await store.release();
    await Promise.all(sends);
    h.conn.close();
    for (let i = 0; i < 10; i++) await settle();
    const removed = store.batches.reduce((n, b) => n + (b.remove?.length ?? 0), 0);
    expect(removed).toBe(count);
    expect(store.snapshot().messages).toHaveLength(0);
  });

  it('with a window of one, the sends of one tick are still one store write', async () => {
    const store = heldStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    const before = store.batches.length;
    const sends = Array.from({ length: 20 }, (_, i) => h.conn.send(i, { id: `m${i}` }));
    await h.advance(0);
    await Promise.all(sends);
    const puts = store.batches.slice(before).filter((b) => (b.put?.length ?? 0) > 0);
    expect(puts.length).toBeLessThanOrEqual(2);
  });
});

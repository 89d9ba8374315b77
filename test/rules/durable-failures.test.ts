/**
 * The durable outbox when things go wrong (durable.md D4, D6, D7): a message handled
 * before a crash but never confirmed, a store that fails to write or to open, and an
 * app that gives up with `close()`. A restart is a connection stopped without `close()`
 * and a new one on the same store, against a memory server that remembers sessions.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryServer } from '../../adapters/memory.js';
import type { OutboxStore } from '../../adapters/store.js';
import { memoryStore, outboxStore } from '../../src/durable.js';
import type { RestoredMessage } from '../../src/index.js';
import { harness, outcome } from '../support/harness.js';
import { settle } from '../support/settle.js';

describe('D4 exactly once across restarts', () => {
  it('D4 a message handled before the crash but never confirmed is answered as a duplicate after it, and the app has it once', async () => {
    const store = memoryStore();
    const handled: string[] = [];
    const server = createMemoryServer({
      record: true,
      heartbeatMs: 0,
      onMessage: (message) => handled.push(message.id),
    });
    const first = harness({ connection: { store, transport: server.transport() } });
    await first.advance(0);
    server.behave({ send: 'hold' });
    first.conn.send('a', { id: 'a' });
    await first.advance(0);
    // The server's app takes it; the ack never leaves before the client dies.
    server.links[0]?.pendingSends[0]?.handleWithoutReply();
    expect(handled).toEqual(['a']);
    first.conn.actor.stop();
    await store.close();

    server.behave({ send: 'ok' });
    const second = harness({ connection: { store, transport: server.transport() } });
    const restored: RestoredMessage[] = [];
    second.conn.on('restored', (messages) => restored.push(...messages));
    await second.advance(0);
    expect(restored.map((m) => m.id)).toEqual(['a']);
    await expect(restored[0]?.settled).resolves.toBeUndefined();
    expect(handled).toEqual(['a']);
    expect(second.errors).toEqual([]);
    expect(store.snapshot().messages).toEqual([]);
  });
});

describe('D6 store failures are loud', () => {
  it('D6 a write that fails rejects its messages with reason store; they never go on the wire', async () => {
    const store = memoryStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    store.failWrites(true);
    const lost = outcome(h.conn.send('a', { id: 'a' }));
    await h.advance(0);
    expect(lost.value).toBe('store');
    expect(h.sentOn(0)).toEqual([]);
    // The message's save failed; so did the removal of the dropped message that followed.
    expect(h.errors.map((e) => [e.kind, e.count])).toEqual([
      ['store', 1],
      ['store', 0],
    ]);
    expect(h.dropped.map((e) => [e.reason, e.sent])).toEqual([['store', false]]);
    // The store recovers: the next send goes out.
    store.failWrites(false);
    const next = outcome(h.conn.send('b', { id: 'b' }));
    await h.advance(0);
    expect(next.value).toBe('ok');
    expect(h.received()).toEqual(['b']);
    expect(h.conn.state).toBe('open');
    expect(store.snapshot().messages).toEqual([]);
  });

  it('D6 a store that cannot be opened closes the connection with kind store', async () => {
    const broken: OutboxStore = {
      open: () => Promise.reject(new Error('no IndexedDB in this frame')),
      write: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const h = harness({ connection: { store: outboxStore(broken) } });
    const queued = outcome(h.conn.send('a', { id: 'a' }));
    await h.advance(0);
    expect(h.conn.state).toBe('closed');
    expect(h.errors.map((e) => e.kind)).toEqual(['store']);
    expect(h.errors[0]?.message).toMatch(/no IndexedDB in this frame/);
    expect(queued.value).toBe('closed');
    expect(h.server.links).toHaveLength(0);
  });

  it("D6 storeFallback 'memory' goes on in memory and says so once", async () => {
    const broken: OutboxStore = {
      open: () => Promise.reject(new Error('disk gone')),
      write: () => Promise.reject(new Error('never called')),
      close: () => Promise.resolve(),
    };
    const h = harness({ connection: { store: outboxStore(broken), storeFallback: 'memory' } });
    const queued = outcome(h.conn.send('a', { id: 'a' }));
    await h.advance(0);
    expect(queued.value).toBe('ok');
    expect(h.conn.state).toBe('open');
    expect(h.errors.map((e) => e.kind)).toEqual(['store']);
    expect(h.errors[0]?.message).toMatch(/going on in memory/);
  });

  it('D6 a store that answers nonsense is a store that cannot be opened, named', async () => {
    const odd = {
      open: () => Promise.resolve({ status: 'maybe' }),
      write: () => Promise.resolve(),
      close: () => Promise.resolve(),
    } as unknown as OutboxStore;
    const h = harness({ connection: { store: outboxStore(odd) } });
    await h.advance(0);
    expect(h.conn.state).toBe('closed');
    expect(h.errors[0]?.message).toMatch(/open\(\) resolves with/);
  });
});

describe('D7 close', () => {
  it('D7 close() rejects what is left, removes it from the store and lets the store go', async () => {
    const store = memoryStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    h.conn.suspend();
    const left = outcome(h.conn.send('a', { id: 'a' }));
    await h.advance(0);
    expect(store.snapshot().messages.map((m) => m.id)).toEqual(['a']);
    h.conn.close();
    await settle();
    await settle();
    expect(left.value).toBe('closed');
    expect(store.snapshot().messages).toEqual([]);
    expect(store.owned).toBe(false);
  });

  it('D7 a connection that dies without close() leaves its outbox for the next start', async () => {
    const store = memoryStore();
    const h = harness({ connection: { store } });
    await h.advance(0);
    h.conn.suspend();
    h.conn.send('a', { id: 'a' });
    await h.advance(0);
    h.conn.actor.stop();
    await settle();
    expect(store.owned).toBe(false);
    expect(store.snapshot().messages.map((m) => [m.id, m.sent])).toEqual([['a', false]]);
  });
});

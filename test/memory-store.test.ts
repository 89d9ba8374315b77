/** `memoryStore()`, the reference OutboxStore (durable.md §2): ownership and batches. */
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../adapters/memory-store.js';
import type { StoredMessage } from '../adapters/store.js';

const message = (id: string, serial: number, sent = false): StoredMessage => ({
  id,
  serial,
  json: JSON.stringify(id),
  retry: true,
  sent,
});

describe('memoryStore', () => {
  it('a new store opens empty and owned', async () => {
    const store = memoryStore();
    expect(await store.open()).toEqual({
      status: 'open',
      outbox: { session: undefined, reserved: 0, messages: [], positions: [], problems: [] },
    });
    expect(store.owned).toBe(true);
  });

  it('a batch applies session, reservation, puts, removals and positions; the reservation never goes down', async () => {
    const store = memoryStore();
    await store.open();
    await store.write({
      session: 'S'.repeat(22),
      reserved: 1000,
      put: [message('a', 1), message('b', 2)],
    });
    await store.write({
      reserved: 10,
      put: [message('a', 1, true)],
      remove: ['b', 'unknown'],
      positions: [{ stream: 'chat', seq: 4, epoch: 'e1' }],
    });
    expect(store.snapshot()).toEqual({
      session: 'S'.repeat(22),
      reserved: 1000,
      messages: [message('a', 1, true)],
      positions: [{ stream: 'chat', seq: 4, epoch: 'e1' }],
      problems: [],
    });
  });

  it('a second opener is told busy and takes over, with everything, once the owner closes', async () => {
    const store = memoryStore();
    await store.open();
    await store.write({ put: [message('a', 1)] });
    const second = await store.open();
    expect(second.status).toBe('busy');
    let released = false;
    if (second.status === 'busy') void second.released.then(() => (released = true));
    await Promise.resolve();
    expect(released).toBe(false);
    await store.close();
    await Promise.resolve();
    expect(released).toBe(true);
    const again = await store.open();
    expect(again.status === 'open' && again.outbox.messages.map((m) => m.id)).toEqual(['a']);
  });

  it('a failing write rejects and changes nothing; a write without ownership is refused', async () => {
    const store = memoryStore();
    await expect(store.write({ put: [message('a', 1)] })).rejects.toThrow(/without owning/);
    await store.open();
    store.failWrites(true);
    await expect(store.write({ put: [message('a', 1)], reserved: 5 })).rejects.toThrow(/failing/);
    expect(store.snapshot().messages).toEqual([]);
    expect(store.snapshot().reserved).toBe(0);
    store.failWrites(false);
    await store.write({ put: [message('a', 1)] });
    expect(store.snapshot().messages).toHaveLength(1);
  });

  it('what open() and snapshot() return is a copy: changing it changes nothing held', async () => {
    const store = memoryStore();
    await store.open();
    await store.write({ put: [message('a', 1)] });
    const read = store.snapshot();
    (read.messages as StoredMessage[]).pop();
    expect(store.snapshot().messages).toHaveLength(1);
  });
});

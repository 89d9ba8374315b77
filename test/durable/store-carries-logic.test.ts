/**
 * A store brings the code that keeps an outbox (machines/durable.ts, docs/decisions.md):
 * a bare `OutboxStore` is refused with a message naming the fix, `outboxStore()` makes one
 * usable, and an app that never makes a store bundles none of the store's code; the
 * store child stays a named actor of the machine.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { createMemoryServer } from '../../adapters/memory.js';
import { memoryStore as bareMemoryStore } from '../../adapters/memory-store.js';
import type { OutboxStore } from '../../adapters/store.js';
import { DURABLE } from '../../machines/durable.js';
import { createConnection } from '../../src/connection.js';
import { memoryStore, outboxStore } from '../../src/durable.js';
import { harness, outcome } from '../support/harness.js';
import { heldStore } from '../support/held-store.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The bundle an app would ship for `entry` (minified, xstate left out). */
async function bundle(entry: string): Promise<string> {
  const result = await build({
    stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    external: ['xstate'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

/** Strings only the store's logic holds: its errors, its actor, its restore. */
const STORE_ONLY = [
  'another connection owns the store',
  'a store write failed',
  'answered busy',
  'could not be read and were left out',
];

describe('a store carries its logic', () => {
  it('a bare OutboxStore is refused, naming outboxStore()', () => {
    const server = createMemoryServer();
    expect(() =>
      createConnection({
        transport: server.transport(),
        store: bareMemoryStore() as unknown as ReturnType<typeof memoryStore>,
      }),
    ).toThrow(/store.*outboxStore\(yourStore\)/);
  });

  it('outboxStore() refuses what is not an OutboxStore, naming its three methods', () => {
    expect(() => outboxStore({ open: () => {} } as unknown as OutboxStore)).toThrow(
      /open, write and close/,
    );
  });

  it('outboxStore() makes an OutboxStore a connection can keep its outbox in', async () => {
    const inner = bareMemoryStore();
    const calls: string[] = [];
    let closed = () => {};
    const released = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const mine: OutboxStore = {
      open() {
        calls.push('open');
        return inner.open();
      },
      write(batch) {
        calls.push('write');
        return inner.write(batch);
      },
      close() {
        calls.push('close');
        return Promise.resolve(inner.close()).then(closed);
      },
    };
    const server = createMemoryServer();
    const conn = createConnection({ transport: server.transport(), store: outboxStore(mine) });
    await conn.send('kept');
    conn.close();
    await released;
    expect(calls[0]).toBe('open');
    expect(calls).toContain('write');
    expect(calls.at(-1)).toBe('close');
    // Delivered, so removed: the store is empty again (D2).
    expect(inner.snapshot().messages).toEqual([]);
  });

  it('an app without a store bundles none of the store code; one with memoryStore() does', async () => {
    const without = await bundle(
      `export { createConnection } from './src/index.ts'; export { webSocketTransport } from './src/websocket.ts';`,
    );
    const withStore = await bundle(
      `export { createConnection, memoryStore } from './src/index.ts'; export { webSocketTransport } from './src/websocket.ts';`,
    );
    for (const text of STORE_ONLY) {
      // Booleans, not the bundle: a failure names the string, not 50 kB of code.
      expect(without.includes(text), `bundled without a store: ${text}`).toBe(false);
      expect(withStore.includes(text), `missing with memoryStore(): ${text}`).toBe(true);
    }
    expect(withStore.length - without.length).toBeGreaterThan(8_000);
  });
});

describe('the store logic as part of the machine', () => {
  it('a store from another copy of holdfast, with another logic version, is refused, naming both', () => {
    const store = memoryStore();
    const foreign = {
      open: () => store.open(),
      write: store.write,
      close: () => store.close(),
      [DURABLE]: { ...store[DURABLE], version: 2 },
    } as unknown as typeof store;
    expect(() =>
      createConnection({ transport: createMemoryServer().transport(), store: foreign }),
    ).toThrow(/version 2, this one runs 1/);
  });

  it('a connection with a store can be persisted: its store child is a named actor', async () => {
    const h = harness({ connection: { store: memoryStore() } });
    await h.advance(0);
    expect(h.conn.state).toBe('open');
    const persisted = h.conn.actor.getPersistedSnapshot() as unknown as {
      children: Record<string, unknown>;
    };
    expect(Object.keys(persisted.children)).toContain('store');
  });

  it('D1 D2 a message pushed out of a full outbox offline, never sent, holds back the rest until its removal is saved', async () => {
    // maxQueue 2, drop-oldest, one in flight: m3 pushes out m1, never sent, so m1's
    // removal must be durable before anything later goes out (the barrier).
    const store = heldStore();
    const h = harness({ connection: { store, maxQueue: 2, overflow: 'drop-oldest' } });
    await h.advance(0);
    h.conn.suspend();
    await h.advance(0);
    const sent = ['m1', 'm2', 'm3'].map((id) => outcome(h.conn.send(id, { id })));
    await h.advance(0);
    const { context } = h.conn.actor.getSnapshot();
    expect(context.store?.barrier).toBe(context.store?.requested);
    expect(sent[0]?.value).toBe('overflow');
    store.hold();
    h.conn.resume();
    await h.advance(0);
    // Nothing goes out while the removal of m1 waits in a held write.
    expect(h.sentOn(h.server.links.length - 1)).toEqual([]);
    await store.release();
    await h.advance(0);
    await h.advance(0);
    expect(h.received()).toEqual(['m2', 'm3']);
    expect(store.snapshot().messages).toEqual([]);
  });
});

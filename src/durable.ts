/**
 * Stores a connection can use (durable.md): each carries the connection's logic for a
 * store (`machines/durable.ts`), so an app that never makes one bundles none of it.
 * `memoryStore()` here, `indexedDbStore()` in `holdfast/browser`, `fileStore()` in
 * `holdfast/node`; `outboxStore()` for an app's own `OutboxStore`.
 */
import {
  type MemoryStore as BareMemoryStore,
  memoryStore as bareMemoryStore,
} from '../adapters/memory-store.js';
import type { OutboxStore } from '../adapters/store.js';
import { DURABLE, type DurableStore } from '../machines/durable.js';
import { invalidArgument } from '../machines/errors.js';
import { storeLogic } from '../machines/store.logic.js';
import { RESTORED, trackRestored } from './restored.js';

export type { DurableStore } from '../machines/durable.js';

/** `memoryStore()`: what it holds, and a way to make its writes fail. */
export type MemoryStore = BareMemoryStore & DurableStore;

/**
 * A store given the connection's logic for it, the machine's and `createConnection`'s
 * (not enumerable: a logged store shows only its own fields).
 */
export function withStoreLogic<T extends OutboxStore>(store: T): T & DurableStore {
  Object.defineProperties(store, {
    [DURABLE]: { value: storeLogic },
    [RESTORED]: { value: trackRestored },
  });
  return store as T & DurableStore;
}

/**
 * Your own `OutboxStore` (docs/durability.md has the contract) as a connection's `store`:
 * `createConnection({ transport, store: outboxStore(myStore) })`. The result calls
 * `myStore`'s methods and nothing else; keep `myStore` for anything of your own.
 */
export function outboxStore(store: OutboxStore): DurableStore {
  const given = store as Partial<OutboxStore> | null;
  if (
    typeof given !== 'object' ||
    given === null ||
    typeof given.open !== 'function' ||
    typeof given.write !== 'function' ||
    typeof given.close !== 'function'
  )
    throw invalidArgument('store', 'an OutboxStore (an object with open, write and close)', store);
  return withStoreLogic({
    open: () => store.open(),
    write: (batch) => store.write(batch),
    close: () => store.close(),
  });
}

/**
 * The reference `OutboxStore`, in memory: for tests, and for handing an outbox from one
 * connection to the next in one process (the second waits until the first closes).
 */
export function memoryStore(): MemoryStore {
  return withStoreLogic(bareMemoryStore());
}

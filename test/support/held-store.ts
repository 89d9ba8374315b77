/**
 * A `memoryStore()` whose writes a test can hold back (as a slow disk would) and count,
 * and whose `open()` can be made to fail: for the rules of the durable outbox.
 */
import type { MemoryStore as BareMemoryStore } from '../../adapters/memory-store.js';
import type { StoreBatch } from '../../adapters/store.js';
import type { DURABLE } from '../../machines/durable.js';
import {
  type DurableStore,
  type MemoryStore,
  memoryStore,
  withStoreLogic,
} from '../../src/durable.js';

export interface HeldStore extends BareMemoryStore, DurableStore {
  /** Every batch written, in order (held ones once they were applied). */
  readonly batches: StoreBatch[];
  /** Hold every write from now on until `release()`. */
  hold(): void;
  /** Apply the held writes, in order, and stop holding. */
  release(): Promise<void>;
  /** Writes waiting for `release()`. */
  readonly held: number;
}

export function heldStore(inner: MemoryStore = memoryStore()): HeldStore {
  const batches: StoreBatch[] = [];
  let holding = false;
  let waiting: Array<() => void> = [];
  const store: Omit<HeldStore, typeof DURABLE> = {
    get owned() {
      return inner.owned;
    },
    get held() {
      return waiting.length;
    },
    batches,
    snapshot: () => inner.snapshot(),
    failWrites: (on) => inner.failWrites(on),
    open: () => inner.open(),
    close: () => inner.close(),
    async write(batch) {
      if (holding) await new Promise<void>((resolve) => waiting.push(resolve));
      await inner.write(batch);
      batches.push(batch);
    },
    hold() {
      holding = true;
    },
    async release() {
      holding = false;
      const go = waiting;
      waiting = [];
      for (const resolve of go) resolve();
      await Promise.resolve();
    },
  };
  return withStoreLogic(store);
}

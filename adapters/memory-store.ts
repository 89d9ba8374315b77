/**
 * `memoryStore()`: the reference `OutboxStore`, in memory. For tests, and for handing an
 * outbox from one connection to the next in one process (the second waits, `busy`,
 * until the first closes the store, then takes over what it left: rule D5).
 *
 * A batch is applied all or nothing: nothing in applying it can fail halfway (no I/O, no
 * check that could refuse a part), so it is applied in place, O(size of the batch). `failWrites` makes writes reject, as a full disk
 * would (D6).
 */
import type {
  OutboxStore,
  StoreBatch,
  StoredMessage,
  StoredOutbox,
  StoreOpening,
} from './store.js';
import type { StreamPosition } from './transport.js';

export interface MemoryStore extends OutboxStore {
  /** What the store holds now, as the next `open()` would read it. */
  snapshot(): StoredOutbox;
  /** While on, every `write` rejects and changes nothing (a full disk, a quota). */
  failWrites(on: boolean): void;
  /** Whether a connection owns the store now. */
  readonly owned: boolean;
}

interface Held {
  session: string | undefined;
  reserved: number;
  messages: Map<string, StoredMessage>;
  positions: readonly StreamPosition[];
}

export function memoryStore(): MemoryStore {
  const held: Held = { session: undefined, reserved: 0, messages: new Map(), positions: [] };
  let owned = false;
  let failing = false;
  // Connections waiting for the owner to let go.
  let waiting: Array<() => void> = [];

  const snapshot = (): StoredOutbox => ({
    session: held.session,
    reserved: held.reserved,
    messages: [...held.messages.values()],
    positions: held.positions,
    problems: [],
  });

  return {
    get owned() {
      return owned;
    },
    snapshot,
    failWrites(on) {
      failing = on;
    },
    async open(): Promise<StoreOpening> {
      if (owned) {
        let wake: () => void = () => {};
        const released = new Promise<void>((resolve) => {
          wake = resolve;
          waiting.push(resolve);
        });
        const cancel = () => {
          waiting = waiting.filter((resolve) => resolve !== wake);
        };
        return { status: 'busy', released, cancel };
      }
      owned = true;
      return { status: 'open', outbox: snapshot() };
    },
    async write(batch: StoreBatch): Promise<void> {
      if (!owned) throw new Error('holdfast memoryStore: write() without owning the store');
      if (failing) throw new Error('holdfast memoryStore: writes are failing (failWrites)');
      held.session = batch.session ?? held.session;
      held.reserved = Math.max(held.reserved, batch.reserved ?? 0);
      for (const message of batch.put ?? []) held.messages.set(message.id, { ...message });
      for (const id of batch.remove ?? []) held.messages.delete(id);
      if (batch.positions !== undefined) held.positions = [...batch.positions];
    },
    async close(): Promise<void> {
      if (!owned) return;
      owned = false;
      const released = waiting;
      waiting = [];
      for (const resolve of released) resolve();
    },
  };
}

/**
 * The `OutboxStore` contract as a table of cases (adapters/store.ts, durable.md §2), so that
 * every store — `memoryStore`, `fileStore`, `indexedDbStore`, a third party's — is checked
 * the same way. No test runner here: each case throws (`node:assert`) when the store breaks
 * the contract; run them with `for (const c of storeCases) it(c.name, () => c.run(subject))`.
 */
import assert from 'node:assert/strict';
import type {
  OutboxStore,
  StoredMessage,
  StoredOutbox,
  StoreOpening,
} from '../../adapters/store.js';

/** The store under test. */
export interface StoreSubject {
  /**
   * A handle on the subject's storage: every call reaches the same storage (one name, one
   * folder). A store that is its own storage (memoryStore) returns the same instance.
   */
  store(): OutboxStore;
}

export interface StoreCase {
  readonly name: string;
  run(subject: StoreSubject): Promise<void>;
}

export const message = (
  id: string,
  serial: number,
  over: Partial<StoredMessage> = {},
): StoredMessage => ({
  id,
  serial,
  json: JSON.stringify({ id }),
  retry: true,
  sent: false,
  ...over,
});

const SESSION = 'S'.repeat(22);

/** The outbox as a comparable value: messages sorted by serial (a store keeps any order). */
export function sorted(outbox: StoredOutbox): StoredOutbox {
  return { ...outbox, messages: [...outbox.messages].sort((a, b) => a.serial - b.serial) };
}

/** Open `store`, which must not be busy, and read what it holds. */
export async function opened(store: OutboxStore): Promise<StoredOutbox> {
  const opening: StoreOpening = await store.open();
  if (opening.status !== 'open') assert.fail(`the store is ${opening.status}, not open`);
  return sorted(opening.outbox);
}

/** Open, read, close: what the next owner would find. */
async function reread(subject: StoreSubject): Promise<StoredOutbox> {
  const store = subject.store();
  const outbox = await opened(store);
  await store.close();
  return outbox;
}

const empty: StoredOutbox = {
  session: undefined,
  reserved: 0,
  messages: [],
  positions: [],
  problems: [],
};

export const storeCases: readonly StoreCase[] = [
  {
    name: 'a new store opens empty, with no problems',
    async run(subject) {
      const store = subject.store();
      assert.deepEqual(await opened(store), empty);
      await store.close();
    },
  },
  {
    name: 'a batch applies session, reservation, puts, removals and positions, in that order',
    async run(subject) {
      const store = subject.store();
      await opened(store);
      await store.write({
        session: SESSION,
        reserved: 1000,
        put: [message('a', 1), message('b', 2)],
      });
      await store.write({
        reserved: 10, // never lowered
        put: [message('a', 1, { sent: true }), message('c', 3)],
        remove: ['b', 'c', 'unknown'], // removals after puts: c, put and removed, is gone
        positions: [{ stream: 'chat', seq: 4, epoch: 'e1' }],
      });
      await store.write({ positions: [{ stream: 'news', seq: 0 }] }); // replaces them all
      await store.close();
      assert.deepEqual(await reread(subject), {
        session: SESSION,
        reserved: 1000,
        messages: [message('a', 1, { sent: true })],
        positions: [{ stream: 'news', seq: 0 }],
        problems: [],
      });
    },
  },
  {
    name: 'every field of a message and a position comes back exactly as written',
    async run(subject) {
      const store = subject.store();
      await opened(store);
      const messages: StoredMessage[] = [
        message('x'.repeat(256), 1, {
          json: JSON.stringify({ text: 'naïve ✓ 😀 \u0000 \n \u2028 \ud800 "quoted" \\' }),
          sent: true,
        }),
        message('notice', 2, { json: 'null', retry: false }),
        message('💬', Number.MAX_SAFE_INTEGER, { json: JSON.stringify('é'.repeat(1000)) }),
      ];
      const positions = [
        { stream: 's'.repeat(256), seq: Number.MAX_SAFE_INTEGER, epoch: 'e'.repeat(64) },
        { stream: 'zero', seq: 0 },
      ];
      await store.write({
        session: 'a-B_0123456789abcdef',
        reserved: Number.MAX_SAFE_INTEGER,
        put: messages,
        positions,
      });
      await store.close();
      assert.deepEqual(await reread(subject), {
        session: 'a-B_0123456789abcdef',
        reserved: Number.MAX_SAFE_INTEGER,
        messages,
        positions,
        problems: [],
      });
    },
  },
  {
    name: 'what is written stays through close and reopen, again and again',
    async run(subject) {
      for (let round = 1; round <= 3; round++) {
        const store = subject.store();
        const outbox = await opened(store);
        assert.deepEqual(
          outbox.messages.map((m) => m.id),
          Array.from({ length: round - 1 }, (_, i) => `m${i + 1}`),
        );
        await store.write({ reserved: round, put: [message(`m${round}`, round)] });
        await store.close();
      }
      assert.equal((await reread(subject)).reserved, 3);
    },
  },
  {
    name: 'a second opener is told busy and takes over, with everything, once the owner closes',
    async run(subject) {
      const first = subject.store();
      await opened(first);
      await first.write({ put: [message('a', 1)] });
      const second = subject.store();
      const busy = await second.open();
      if (busy.status !== 'busy') assert.fail('the second opener is busy');
      let released = false;
      void busy.released.then(() => {
        released = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(released, false, 'not released while the owner holds it');
      await first.close();
      await busy.released;
      const outbox = await opened(second);
      assert.deepEqual(
        outbox.messages.map((m) => m.id),
        ['a'],
      );
      await second.close();
    },
  },
  {
    name: 'a waiter that cancels its wait never takes the store: the owner keeps it',
    async run(subject) {
      const first = subject.store();
      await opened(first);
      const second = subject.store();
      const busy = await second.open();
      if (busy.status !== 'busy') assert.fail('the second opener is busy');
      busy.cancel?.();
      // The owner still owns it: its writes go on, and the waiter's wait never ends.
      await new Promise((resolve) => setTimeout(resolve, 20));
      await first.write({ put: [message('a', 1)] });
      let released = false;
      void busy.released.then(() => {
        released = true;
      });
      await first.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(released, false, 'a withdrawn wait does not end');
      const outbox = await opened(second);
      assert.deepEqual(
        outbox.messages.map((m) => m.id),
        ['a'],
      );
      await second.close();
    },
  },
  {
    name: 'a write without owning the store is refused; close is idempotent',
    async run(subject) {
      const store = subject.store();
      await assert.rejects(store.write({ put: [message('a', 1)] }), /without owning/);
      await opened(store);
      await store.close();
      await store.close();
      await assert.rejects(store.write({ put: [message('a', 1)] }), /without owning/);
      assert.deepEqual(await reread(subject), empty);
    },
  },
  {
    name: 'what open() returns is a copy: changing it changes nothing held',
    async run(subject) {
      const store = subject.store();
      await opened(store);
      await store.write({ put: [message('a', 1)] });
      await store.close();
      const reader = subject.store();
      const opening = await reader.open();
      if (opening.status !== 'open') assert.fail('the store opens');
      (opening.outbox.messages as StoredMessage[]).pop();
      await reader.close();
      assert.equal((await reread(subject)).messages.length, 1);
    },
  },
];

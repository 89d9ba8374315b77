/**
 * The store as a child actor of the connection machine: it opens the store, waits while
 * another connection owns it (D5), and writes what the machine asks — every request of
 * one tick as one batch (D1, D2), one batch at a time — telling the machine which
 * requests are durable. The machine decides what is saved and what may go on the wire;
 * this actor only moves records, like the link actor moves frames.
 *
 * The serial reservation is kept here: a batch that puts a serial above the reservation
 * also raises it, a block at a time, in the same all-or-nothing write — so after a crash
 * the next serial starts above every serial that may have been used.
 */
import type { CallbackLogicFunction } from 'xstate';
import type { StoreBatch, StoredMessage } from '../adapters/store.js';
import type { DurableStore } from './durable.js';
import { invalidArgument } from './errors.js';
import { field } from './peer-field.js';
import type { Positions } from './positions.js';
import { checkStoredOutbox, type RestoredOutbox } from './restore.js';

/** Serials reserved per store write that needs more: one write per this many messages. */
export const SERIAL_BLOCK = 1000;

/**
 * Removals kept for the next write, at least: past this (and twice `maxQueue`), the
 * oldest are given up. Only ids never stored, or a write that hangs, get there.
 */
const REMOVALS_KEPT = 10_000;

/** Consecutive `busy` answers before a store is taken for broken (each after a release). */
const BUSY_ANSWERS = 10_000;

/** What the machine asks of the store actor. */
export interface StoreCommand {
  readonly type: 'store.write';
  /** The machine's number for a request that must become durable; 0 for removals only. */
  readonly request: number;
  readonly session?: string;
  readonly put?: readonly StoredMessage[];
  readonly remove?: readonly string[];
  /** The watched streams now: listed when the batch is written, not per frame. */
  readonly positions?: Positions;
}

/** What the store actor tells the machine. */
export type StoreEvent =
  | { type: 'store.busy' }
  | { type: 'store.opened'; outbox: RestoredOutbox }
  | { type: 'store.open-failed'; error: unknown }
  /** Every request up to `upTo` is durable. */
  | { type: 'store.saved'; upTo: number }
  /**
   * The write holding the requests after the last saved one, up to `upTo`, failed;
   * `ids`: the messages it was to save, none of them saved.
   */
  | { type: 'store.write-failed'; upTo: number; ids: readonly string[]; error: unknown };

export interface StoreActorInput {
  store: DurableStore;
  maxQueue: number;
}

/** The reservation that covers `serial`: the next multiple of `SERIAL_BLOCK` at or above it. */
export function reservationFor(serial: number): number {
  return Math.ceil(serial / SERIAL_BLOCK) * SERIAL_BLOCK;
}

interface PendingBatch {
  upTo: number;
  session?: string;
  readonly put: Map<string, StoredMessage>;
  readonly remove: Set<string>;
  positions?: Positions;
}

const emptyBatch = (): PendingBatch => ({ upTo: 0, put: new Map(), remove: new Set() });

/**
 * The store child's body. The machine's named `store` actor runs the body its store
 * brought (`durable.ts`), so the code comes with the store and the child stays a named
 * actor that a persisted snapshot can name.
 */
export const runStore: CallbackLogicFunction<StoreCommand, StoreEvent, StoreActorInput> = ({
  input,
  sendBack,
  receive,
}) => {
  const { store, maxQueue } = input;
  // The whole outbox may settle while one write is on its way (D2), and a failed write's
  // removals may ride along: only past both (ids never stored, a hanging write) give up.
  const removalsKept = Math.max(REMOVALS_KEPT, 2 * maxQueue);
  let stopped = false;
  let opened = false;
  let busyAnswers = 0;
  let cancelWait: (() => void) | undefined;
  let reserved = 0;
  let writing = false;
  let scheduled = false;
  let pending = emptyBatch();
  let afterStop: (() => void) | undefined;
  // The machine asked for more while the current write was on its way.
  let askedSince = false;
  // After a stop, a failed write is tried once more (the close's removals, D7).
  let retriedAfterStop = false;

  const tell = (event: StoreEvent) => {
    if (!stopped) sendBack(event);
  };
  // Only an owner closes: a shared store cannot tell who calls (adapters/store.ts).
  const release = () => {
    try {
      Promise.resolve(store.close()).catch(() => {});
    } catch {
      // A store whose close() throws has let go or never will; either way we are done.
    }
  };
  const withdraw = () => {
    const cancel = cancelWait;
    cancelWait = undefined;
    try {
      cancel?.();
    } catch {
      // Withdrawing is a courtesy to the store; a throw changes nothing here.
    }
  };

  const open = () => {
    let opening: Promise<unknown>;
    try {
      opening = Promise.resolve(store.open());
    } catch (error) {
      opening = Promise.reject(error);
    }
    opening.then(
      (answer) => {
        const status = field(answer, 'status');
        if (status === 'open') {
          if (stopped) return release();
          const outbox = checkStoredOutbox(field(answer, 'outbox'), maxQueue);
          opened = true;
          reserved = outbox.reserved;
          tell({ type: 'store.opened', outbox });
          return;
        }
        const released = field(answer, 'released');
        const cancel = field(answer, 'cancel');
        if (status === 'busy' && isThenable(released) && busyAnswers < BUSY_ANSWERS) {
          cancelWait = typeof cancel === 'function' ? () => cancel.call(answer) : undefined;
          if (stopped) return withdraw();
          if (busyAnswers++ === 0) tell({ type: 'store.busy' });
          // Released, or its promise failed: either way, ask again.
          const again = () => {
            cancelWait = undefined;
            if (!stopped) open();
          };
          Promise.resolve(released).then(again, again);
          return;
        }
        tell({
          type: 'store.open-failed',
          error:
            status === 'busy'
              ? new TypeError(`holdfast: the store answered busy ${busyAnswers} times in a row`)
              : invalidArgument(
                  "what the store's open() resolves with",
                  "{ status: 'open', outbox } or { status: 'busy', released }",
                  answer,
                ),
        });
      },
      (error: unknown) => tell({ type: 'store.open-failed', error }),
    );
  };

  const flush = () => {
    scheduled = false;
    if (writing || !opened) return;
    const next = pending;
    if (
      next.upTo === 0 &&
      next.put.size === 0 &&
      next.remove.size === 0 &&
      next.session === undefined &&
      next.positions === undefined
    )
      return afterStop?.();
    pending = emptyBatch();
    const batch: {
      -readonly [K in keyof StoreBatch]: StoreBatch[K];
    } = {};
    if (next.session !== undefined) batch.session = next.session;
    if (next.put.size > 0) {
      const put = [...next.put.values()];
      let highest = 0;
      for (const message of put) if (message.serial > highest) highest = message.serial;
      if (highest > reserved) batch.reserved = reservationFor(highest);
      batch.put = put;
    }
    if (next.remove.size > 0) batch.remove = [...next.remove];
    if (next.positions !== undefined) batch.positions = next.positions.list();
    writing = true;
    askedSince = false;
    let written: Promise<void>;
    try {
      written = Promise.resolve(store.write(batch));
    } catch (error) {
      written = Promise.reject(error);
    }
    written.then(
      () => {
        writing = false;
        if (batch.reserved !== undefined) reserved = batch.reserved;
        if (next.upTo > 0) tell({ type: 'store.saved', upTo: next.upTo });
        schedule();
      },
      (error: unknown) => {
        writing = false;
        // Removals are idempotent: they ride along with the next write (not one of
        // their own: a store that keeps failing must not spin). Positions and the
        // session too, unless newer ones are waiting already.
        for (const id of next.remove) keepRemoval(id);
        if (pending.positions === undefined && next.positions !== undefined)
          pending.positions = next.positions;
        if (pending.session === undefined && next.session !== undefined)
          pending.session = next.session;
        tell({
          type: 'store.write-failed',
          upTo: next.upTo,
          ids: [...next.put.keys()],
          error,
        });
        if (stopped) {
          if (retriedAfterStop) return afterStop?.();
          retriedAfterStop = true;
          return schedule();
        }
        if (askedSince) schedule();
      },
    );
  };
  const schedule = () => {
    if (scheduled || writing) return;
    scheduled = true;
    queueMicrotask(flush);
  };
  // Bounded while a write hangs: past the bound the oldest are given up (docs/decisions.md).
  const keepRemoval = (id: string) => {
    const { remove } = pending;
    if (remove.size >= removalsKept) {
      const oldest = remove.values().next();
      if (!oldest.done) remove.delete(oldest.value);
    }
    remove.add(id);
  };

  receive((command) => {
    const batch = pending;
    if (command.request > batch.upTo) batch.upTo = command.request;
    if (command.session !== undefined) batch.session = command.session;
    for (const message of command.put ?? []) {
      // An id settled and then sent again (ids are free once settled): put it back.
      batch.remove.delete(message.id);
      batch.put.set(message.id, message);
    }
    for (const id of command.remove ?? []) {
      batch.put.delete(id);
      keepRemoval(id);
    }
    if (command.positions !== undefined) batch.positions = command.positions;
    askedSince = true;
    schedule();
  });

  open();

  // Stopped (closed, or the actor let go): what was asked is still written, then the
  // store is let go for the next owner (D5, D7). A connection that never owned it only
  // withdraws its wait; one whose open() is still on its way lets go when it answers.
  return () => {
    stopped = true;
    if (!opened) return withdraw();
    afterStop = () => {
      afterStop = undefined;
      release();
    };
    if (!writing && !scheduled) flush();
  };
};

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof field(value, 'then') === 'function';
}

/**
 * The connection machine's logic for a store (durable.md), beyond the send path
 * (`store.sending.ts`): restore what the store held (D3), say it is owned elsewhere (D5),
 * reject what could not be saved and close or go on in memory when it cannot be opened
 * (D6). It comes with a store (`durable.ts`), so a connection without one carries none.
 */
import { DURABLE_VERSION, type DurableLogic } from './durable.js';
import { DeliveryError } from './errors.js';
import { enqueueAll, type OutboxEntry, UNSAVED } from './outbox.js';
import type { CollectArgs } from './parent.js';
import { emptyQueue, pushAll, toArray } from './queue.js';
import { enqueueAndSendSaved, enqueueSaved, pumpSaved, removing } from './store.sending.js';
import { runStore } from './store-actor.js';
import { storeBusy, storeFailed, storeProblems, unsaved } from './store-errors.js';

type Action = (args: CollectArgs) => void;

export const storeLogicActions: Record<
  'restoreOutbox' | 'reportStoreBusy' | 'fallBackToMemory' | 'closeAsStoreFailed' | 'rejectUnsaved',
  Action
> = {
  // The store opened: what it held goes first, in serial order, under its session; what
  // the app sent meanwhile follows with serials above the reservation (D3).
  restoreOutbox: ({ context, event, enqueue }) => {
    const { store } = context;
    if (event.type !== 'store.opened' || store?.status !== 'opening') return;
    const { outbox: held } = event;
    const session = held.session ?? context.session;
    let nextSerial = held.reserved + 1;
    const all: OutboxEntry[] = held.messages.map((message) => ({
      id: message.id,
      serial: message.serial,
      data: message.data,
      json: message.json,
      retry: message.retry,
      // Saved as sent: it may have reached the server; it may go out again at once.
      attempts: message.sent ? 1 : 0,
      savedAt: message.sent ? 0 : UNSAVED,
    }));
    // A notice that may have been sent already is never sent again (R9).
    const once = new Set(all.filter((entry) => !entry.retry && entry.attempts > 0));
    const restored = once.size === 0 ? all : all.filter((entry) => !once.has(entry));
    // Sent while the store was opening: never saved, never on the wire; numbered anew.
    const waiting = toArray(context.outbox.queue).map((entry) => ({
      ...entry,
      serial: nextSerial++,
    }));
    const change = enqueueAll(
      { queue: pushAll(emptyQueue(), restored), inFlight: context.outbox.inFlight },
      waiting,
      context.options,
    );
    let { positions } = context;
    for (const { stream, seq, epoch } of held.positions) {
      // A stream the app watched at a position, or unwatched, since the start keeps the
      // app's word; one it watched without a position takes the store's.
      if (store.watchedUnpositioned.has(stream) && positions.get(stream) === 0)
        positions =
          epoch === undefined
            ? positions.advance(stream, seq)
            : positions.inEpoch(stream, epoch, seq);
      else if (!positions.has(stream) && !positions.isUnwatched(stream))
        positions = positions.watch(stream, seq, epoch);
    }
    enqueue.assign({
      session,
      nextSerial,
      outbox: change.outbox,
      positions,
      store: { ...store, status: 'ready', saved: 0, watchedUnpositioned: new Set<string>() },
    });
    const overflow = held.overflow.map(overflowed);
    enqueue.emit({ type: 'restored', messages: [...all, ...overflow] });
    if (held.problems.length > 0)
      enqueue.emit({ type: 'error', error: storeProblems(held.problems) });
    // What settles here is removed here: the emits below happen while the store is
    // still opening for them (parent.ts removes only from a ready store).
    const dropped = new Set(change.dropped.map((drop) => drop.message));
    const fresh = new Set(waiting);
    const remove = [
      ...held.unreadable,
      ...overflow.map((m) => m.id),
      ...[...once].map((m) => m.id),
      // Restored ones that fell out (drop-oldest); new ones were never saved.
      ...[...dropped].filter((m) => !fresh.has(m)).map((m) => m.id),
    ];
    const saved = waiting.filter((entry) => !dropped.has(entry));
    enqueue.sendTo('store', {
      type: 'store.write',
      request: 0,
      ...(held.session === undefined ? { session } : {}),
      put: saved.map(({ id, serial, json, retry }) => ({ id, serial, json, retry, sent: false })),
      remove,
      positions,
    });
    for (const message of overflow)
      enqueue.emit({
        type: 'dropped',
        message,
        error: DeliveryError.overflow(message.id, context.options.maxQueue, 'full'),
      });
    for (const message of once)
      enqueue.emit({ type: 'dropped', message, error: DeliveryError.notRetried(message.id) });
    for (const drop of change.dropped) enqueue.emit({ type: 'dropped', ...drop });
  },
  reportStoreBusy: ({ enqueue }) => enqueue.emit({ type: 'error', error: storeBusy() }),
  fallBackToMemory: ({ event, enqueue }) => {
    if (event.type !== 'store.open-failed') return;
    // Sendable at once: nothing waits for a store any more.
    enqueue.assign({ store: undefined });
    enqueue.stopChild('store');
    enqueue.emit({ type: 'error', error: storeFailed('open', event.error, true) });
  },
  closeAsStoreFailed: ({ event, enqueue }) => {
    if (event.type !== 'store.open-failed') return;
    const error = storeFailed('open', event.error);
    enqueue.assign({ closedBy: error });
    enqueue.emit({ type: 'error', error });
  },
  // A write failed: the messages it was to save as sent are rejected, never sent
  // unsaved (D6). The rest go on: the next write may succeed.
  rejectUnsaved: ({ context, event, enqueue }) => {
    const { store } = context;
    if (event.type !== 'store.write-failed' || store === undefined) return;
    const failed = new Set(event.ids);
    const kept: OutboxEntry[] = [];
    const lost: OutboxEntry[] = [];
    // Only queued messages can wait for a write: none on the wire went unsaved.
    for (const entry of toArray(context.outbox.queue)) {
      if (failed.has(entry.id)) lost.push(entry);
      else kept.push(entry);
    }
    enqueue.assign({
      ...(lost.length === 0
        ? {}
        : { outbox: { queue: pushAll(emptyQueue(), kept), inFlight: context.outbox.inFlight } }),
      store: { ...store, saved: Math.max(store.saved, event.upTo) },
    });
    enqueue.emit({
      type: 'error',
      error: storeFailed('write', event.error, false, lost.length),
    });
    for (const message of lost)
      enqueue.emit({
        type: 'dropped',
        message,
        error: unsaved(message.id, event.error),
      });
  },
};

/** A restored message past `maxQueue`. */
function overflowed(message: {
  id: string;
  serial: number;
  data: unknown;
  json: string;
  retry: boolean;
  sent: boolean;
}): OutboxEntry {
  const { id, serial, data, json, retry, sent } = message;
  return { id, serial, data, json, retry, attempts: sent ? 1 : 0, savedAt: UNSAVED };
}

/** Everything the connection machine needs of a store, carried by the store (`durable.ts`). */
export const storeLogic: DurableLogic = {
  version: DURABLE_VERSION,
  run: runStore,
  ...storeLogicActions,
  enqueue: enqueueSaved,
  enqueueAndSend: enqueueAndSendSaved,
  pump: pumpSaved,
  removing,
};

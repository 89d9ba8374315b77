/**
 * The send path with a ready store (durable.md D1, D2, D7): a message is put on the wire
 * only once a write that saves it as sent is durable, and every settled message is
 * removed. It comes with a store (`durable.ts`); without one, `outbox.actions.ts` sends
 * at once and nothing here runs.
 */
import type { StoredMessage } from '../adapters/store.js';
import { type OutboxEntry, takeForSending, UNSAVED } from './outbox.js';
import type { CollectArgs } from './parent.js';
import { peek, takeFront, unshiftAll } from './queue.js';
import { armAckTimer, enqueueSent, onTheWire } from './sending.js';
import type { ConnectionEmitted, StoreState } from './types.js';

/**
 * Where saving head messages as sent stops: at a notice (`retry: false`) past the room in
 * the window — a notice is saved as sent only when it surely goes out next.
 */
function markingStops(room: number): (entry: OutboxEntry) => boolean {
  let index = 0;
  return (entry) => {
    const stop = entry.savedAt !== UNSAVED || (!entry.retry && index >= room);
    index++;
    return stop;
  };
}

/** A message as the store keeps it; `sent`: it may go on the wire once this is saved. */
function stored(entries: readonly OutboxEntry[], sent: boolean): StoredMessage[] {
  return entries.map(({ id, serial, json, retry }) => ({ id, serial, json, retry, sent }));
}

/** Queued while no link is usable: saved at once, as not yet sent, so it survives a crash. */
export function enqueueSaved({ context, event, enqueue }: CollectArgs): void {
  if (event.type !== 'send') return;
  const { outbox, dropped, nextSerial, entries } = enqueueSent(context, event, UNSAVED);
  if (outbox !== context.outbox) enqueue.assign({ outbox, nextSerial });
  if (entries.length > 0)
    enqueue.sendTo('store', { type: 'store.write', request: 0, put: stored(entries, false) });
  for (const drop of dropped) enqueue.emit({ type: 'dropped', ...drop });
}

/**
 * The new messages are saved as sent, to go out once that write is durable (D1): one
 * write per tick. A notice (`retry: false`) is saved as sent only if the window will take
 * it, so one that surely never left is not taken for one that may have (R9 after a
 * restart); the rest wait for `pump` to save them as sent.
 */
export function enqueueAndSendSaved({ context, event, enqueue }: CollectArgs): void {
  const { store } = context;
  if (event.type !== 'send' || store === undefined) return;
  const request = store.requested + 1;
  const { queue, inFlight } = context.outbox;
  const room = context.options.maxInFlight - inFlight.size - queue.size;
  const queued = enqueueSent(context, event, request, room);
  if (queued.outbox !== context.outbox)
    enqueue.assign({ outbox: queued.outbox, nextSerial: queued.nextSerial });
  const { entries } = queued;
  if (entries.length > 0) {
    enqueue.assign({ store: { ...store, requested: request } });
    enqueue.sendTo('store', {
      type: 'store.write',
      request,
      put: entries.map(({ id, serial, json, retry, savedAt }) => ({
        id,
        serial,
        json,
        retry,
        sent: savedAt !== UNSAVED,
      })),
    });
  }
  for (const drop of queued.dropped) enqueue.emit({ type: 'dropped', ...drop });
}

/** What the window takes of what is saved as sent; what the store holds as unsent is saved as sent first. */
export function pumpSaved({ context, enqueue }: CollectArgs): void {
  const { store } = context;
  if (store === undefined) return;
  const { maxInFlight } = context.options;
  // Behind a removal that must land first (`barrier`), nothing goes out.
  const saved = store.saved >= store.barrier ? store.saved : -1;
  const { outbox, sent } = takeForSending(context.outbox, maxInFlight, saved);
  let next = outbox;
  // Messages the store holds as unsent (queued offline, restored) at the head: saved as
  // sent first, in one write, then sent once it is durable (D1).
  const room = maxInFlight - outbox.inFlight.size;
  if (room > 0 && peek(outbox.queue)?.savedAt === UNSAVED) {
    const request = store.requested + 1;
    const { taken, rest } = takeFront(outbox.queue, Number.POSITIVE_INFINITY, markingStops(room));
    const marked = taken.map((entry) => ({ ...entry, savedAt: request }));
    next = { queue: unshiftAll(rest, marked), inFlight: outbox.inFlight };
    enqueue.assign({ store: { ...store, requested: request } });
    enqueue.sendTo('store', { type: 'store.write', request, put: stored(marked, true) });
  }
  if (next === context.outbox) return;
  enqueue.assign({ outbox: next });
  if (sent.length === 0) return;
  enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
  if (context.outbox.inFlight.size === 0) armAckTimer(enqueue, context);
}

/** The ids of the messages an emitted event settles, if it settles any. */
function settledIds(event: ConnectionEmitted): string[] | undefined {
  if (event.type === 'delivered') return event.messages.map((message) => message.id);
  if (event.type === 'dropped') return [event.message.id];
  return undefined;
}

/**
 * The action's arguments with an `emit` that first removes what the event settles from
 * the store (D2, D7): whatever path delivers or drops a message says so by emitting, so
 * none can leave a settled message behind.
 */
export function removing(args: CollectArgs): CollectArgs {
  const { enqueue } = args;
  const removingEnqueue = Object.assign(
    (action: Parameters<typeof enqueue>[0]) => enqueue(action),
    enqueue,
    {
      emit: (event: ConnectionEmitted) => {
        const remove = settledIds(event);
        if (event.type === 'dropped' && event.message.attempts === 0) {
          // Never sent, maybe stored: its removal lands before anything later goes
          // out, or a crash could bring it back below serials the server took.
          // Numbered from the context as it is by then: an earlier request of this
          // action (a save, another removal) has its own number.
          enqueue.assign(({ context }) => {
            const store = context.store as StoreState;
            const request = store.requested + 1;
            return { store: { ...store, requested: request, barrier: request } };
          });
          enqueue.sendTo('store', ({ context }) => ({
            type: 'store.write',
            request: (context.store as StoreState).requested,
            remove,
          }));
        } else if (remove !== undefined)
          enqueue.sendTo('store', { type: 'store.write', request: 0, remove });
        enqueue.emit(event);
      },
    },
  );
  return { ...args, enqueue: removingEnqueue as typeof enqueue };
}

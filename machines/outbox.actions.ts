/**
 * Actions on the outbox: queue what the app sends (R10), put it on the wire while the
 * window allows (R1), settle it by the server's verdicts (R11), requeue what a lost link
 * left unconfirmed (R6, R8, R9, R12), withdraw it (R19) and reject everything on close
 * (R14). The bookkeeping itself is pure, in `outbox.ts`.
 */
import type { StoredMessage } from '../adapters/store.js';
import type { OutboundMessage } from '../adapters/transport.js';
import { DeliveryError } from './errors.js';
import { guarded } from './guarded.js';
import { isLinkFailure } from './link-actor.js';
import {
  allEntries,
  type Dropped,
  emptyOutbox,
  enqueueAll,
  isOverLimit,
  jsonBytes,
  type OutboxChange,
  type OutboxEntry,
  requeueInFlight,
  settle,
  takeForSending,
  UNSAVED,
  withdraw,
} from './outbox.js';
import { enqueueActions } from './parent.js';
import { peek, takeFront, unshiftAll } from './queue.js';
import type { ConnectionContext, OutgoingMessage } from './types.js';

/** What goes on the wire: id, data and its JSON, never the outbox's own bookkeeping. */
function onTheWire(entries: readonly OutboxEntry[]): OutboundMessage[] {
  return entries.map(({ id, serial, data, json, retry }) => ({ id, serial, data, json, retry }));
}

/** `data` as JSON, or the reason it is not: `JSON.stringify` throws or yields nothing. */
function toJson(data: unknown): string | { error: unknown } {
  try {
    const json = JSON.stringify(data);
    return typeof json === 'string' ? json : { error: new TypeError('it is not a JSON value') };
  } catch (error) {
    return { error };
  }
}

/**
 * The outbox with the app's messages added at the back, in order, and what fell out.
 * `createConnection` serialised and sized each message already; a `send` event from an
 * embedding app may bring only `data`, which is serialised and sized here.
 */
function enqueueSent(
  context: ConnectionContext,
  event: OutgoingMessage | { messages: readonly OutgoingMessage[] },
  savedAt: number,
  /** New notices (`retry: false`) past this many entries are `UNSAVED`; the rest get `savedAt`. */
  marked = Number.POSITIVE_INFINITY,
): OutboxChange & { nextSerial: number; entries: readonly OutboxEntry[] } {
  const messages = 'messages' in event ? event.messages : [event];
  const { createId, maxMessageBytes } = context.options;
  const entries: OutboxEntry[] = [];
  const refused: Dropped[] = [];
  let { nextSerial } = context;
  for (const message of messages) {
    const id = message.id ?? createId();
    const given = message.json;
    const json = given ?? toJson(message.data);
    const problem =
      typeof json !== 'string'
        ? DeliveryError.invalid(id, json.error)
        : given === undefined && isOverLimit(json, maxMessageBytes)
          ? DeliveryError.tooLarge(id, jsonBytes(json), maxMessageBytes)
          : undefined;
    // A serial is given as the message enters the outbox, in send order (spec §2).
    const entry: OutboxEntry = {
      id,
      serial: problem === undefined ? nextSerial++ : 0,
      data: message.data,
      json: typeof json === 'string' ? json : '',
      retry: message.retry !== false,
      attempts: 0,
      tag: message.tag,
      savedAt: message.retry === false && entries.length >= marked ? UNSAVED : savedAt,
    };
    if (problem === undefined) entries.push(entry);
    else refused.push({ message: entry, error: problem });
  }
  const change = enqueueAll(context.outbox, entries, context.options);
  return {
    outbox: change.outbox,
    dropped: refused.length === 0 ? change.dropped : [...refused, ...change.dropped],
    nextSerial,
    entries,
  };
}

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

/** The id of the one delayed `ack.timeout` event, so it can be cancelled and re-armed. */
const ACK_TIMER = 'ackTimeout';

type Enqueue = Parameters<Parameters<typeof enqueueActions>[0]>[0]['enqueue'];

/**
 * Start the ack timer for a new head of the in-flight queue: the oldest unconfirmed
 * message gets `ackTimeoutMs` (0: never) to be confirmed on a link that is alive.
 */
function armAckTimer(enqueue: Enqueue, context: ConnectionContext): void {
  const ms = context.options.ackTimeoutMs;
  if (ms > 0) enqueue.raise({ type: 'ack.timeout' }, { id: ACK_TIMER, delay: ms });
}

export const outboxActions = {
  // Queued while no link is usable. A store saves it at once, as not yet sent: it
  // survives a crash, and is saved as sent before it goes on the wire (D1).
  enqueue: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'send') return;
    const savedAt = context.storeStatus === 'memory' ? 0 : UNSAVED;
    const { outbox, dropped, nextSerial, entries } = enqueueSent(context, event, savedAt);
    if (outbox !== context.outbox) enqueue.assign({ outbox, nextSerial });
    if (context.storeStatus === 'ready' && entries.length > 0)
      enqueue.sendTo('store', { type: 'store.write', request: 0, put: stored(entries, false) });
    for (const drop of dropped) enqueue.emit({ type: 'dropped', ...drop });
  }),
  pump: enqueueActions(({ context, enqueue }) => {
    const { maxInFlight } = context.options;
    // Behind a removal that must land first (`storeBarrier`), nothing goes out.
    const saved = context.storeSaved >= context.storeBarrier ? context.storeSaved : -1;
    const { outbox, sent } = takeForSending(context.outbox, maxInFlight, saved);
    let next = outbox;
    // Messages the store holds as unsent (queued offline, restored) at the head: saved as
    // sent first, in one write, then sent once it is durable (D1).
    const room = maxInFlight - outbox.inFlight.size;
    if (context.storeStatus === 'ready' && room > 0 && peek(outbox.queue)?.savedAt === UNSAVED) {
      const request = context.storeRequested + 1;
      const { taken, rest } = takeFront(outbox.queue, Number.POSITIVE_INFINITY, markingStops(room));
      const marked = taken.map((entry) => ({ ...entry, savedAt: request }));
      next = { queue: unshiftAll(rest, marked), inFlight: outbox.inFlight };
      enqueue.assign({ storeRequested: request });
      enqueue.sendTo('store', { type: 'store.write', request, put: stored(marked, true) });
    }
    if (next === context.outbox) return;
    enqueue.assign({ outbox: next });
    if (sent.length === 0) return;
    enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
    if (context.outbox.inFlight.size === 0) armAckTimer(enqueue, context);
  }),
  cancelAckTimer: enqueueActions(({ enqueue }) => enqueue.cancel(ACK_TIMER)),
  // The hot path of a usable link: queue and put on the wire in one context update.
  // The hot path of a usable link: queue and put on the wire in one context update. With
  // a store, the new messages are saved as sent first and go out once that is durable.
  enqueueAndSend: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'send') return;
    const { maxInFlight } = context.options;
    if (context.storeStatus !== 'ready') {
      const queued = enqueueSent(context, event, 0);
      const { outbox, sent } = takeForSending(queued.outbox, maxInFlight, context.storeSaved);
      if (outbox !== context.outbox) enqueue.assign({ outbox, nextSerial: queued.nextSerial });
      for (const drop of queued.dropped) enqueue.emit({ type: 'dropped', ...drop });
      if (sent.length === 0) return;
      enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
      if (context.outbox.inFlight.size === 0) armAckTimer(enqueue, context);
      return;
    }
    // With a store, the new messages are saved as sent, to go out once that write is
    // durable (D1): one write per tick. A notice (`retry: false`) is saved as sent only
    // if the window will take it, so one that surely never left is not taken for one
    // that may have (R9 after a restart); the rest wait for `pump` to save them as sent.
    const request = context.storeRequested + 1;
    const { queue, inFlight } = context.outbox;
    const room = maxInFlight - inFlight.size - queue.size;
    const queued = enqueueSent(context, event, request, room);
    if (queued.outbox !== context.outbox)
      enqueue.assign({ outbox: queued.outbox, nextSerial: queued.nextSerial });
    const { entries } = queued;
    if (entries.length > 0) {
      enqueue.assign({ storeRequested: request });
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
  }),
  // Every verdict up to the first that ends the link, in order: confirmations resolve
  // their sends, refusals drop theirs (R11). What follows a link failure stays in flight
  // and is requeued with the rest.
  settleVerdicts: enqueueActions(
    guarded(({ context, event, enqueue }) => {
      if (event.type !== 'link.verdicts') return;
      let { inFlight } = context.outbox;
      let delivered: OutboxEntry[] = [];
      // A transport that only knows a message was written says so (`delivery: 'written'`),
      // and the link counts them: losing it reports them (`reportUnconfirmedWrites`).
      const confirmed = context.options.delivery === 'confirmed';
      let written = context.written;
      const deliver = (messages: OutboxEntry[]) => {
        if (!confirmed) written += messages.length;
        enqueue.emit({ type: 'delivered', messages, confirmed });
      };
      for (const verdict of event.verdicts) {
        if (isLinkFailure(verdict)) break;
        const settled = settle(inFlight, verdict.id);
        if (settled.entry === undefined) continue;
        inFlight = settled.inFlight;
        const { outcome } = verdict;
        if (outcome.status === 'ok') {
          delivered.push(settled.entry);
          continue;
        }
        // Emitted in order, so promises settle in the order the verdicts came.
        if (delivered.length > 0) deliver(delivered);
        delivered = [];
        const error =
          outcome.status === 'rejected'
            ? DeliveryError.rejected(settled.entry.id, outcome.error, outcome.httpStatus)
            : DeliveryError.rejected(settled.entry.id, undefined);
        enqueue.emit({ type: 'dropped', message: settled.entry, error });
      }
      if (inFlight !== context.outbox.inFlight) {
        enqueue.assign({ outbox: { queue: context.outbox.queue, inFlight } });
        // A new head (or none): its own ack timer.
        enqueue.cancel(ACK_TIMER);
        if (inFlight.size > 0) armAckTimer(enqueue, context);
      }
      if (delivered.length > 0) deliver(delivered);
      if (written !== context.written) enqueue.assign({ written });
    }),
  ),
  requeueInFlight: enqueueActions(({ context, enqueue }) => {
    const change = requeueInFlight(context.outbox, context.options.maxDeliveryAttempts);
    if (change.outbox === context.outbox) return;
    enqueue.assign({ outbox: change.outbox });
    for (const drop of change.dropped) enqueue.emit({ type: 'dropped', ...drop });
  }),
  withdraw: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'abort') return;
    const { outbox, entry } = withdraw(context.outbox, event.id);
    if (entry === undefined) return;
    enqueue.assign({ outbox });
    enqueue.emit({ type: 'dropped', message: entry, error: DeliveryError.aborted(entry.id) });
  }),
  rejectEverything: enqueueActions(({ context, enqueue }) => {
    const entries = allEntries(context.outbox);
    enqueue.assign({ outbox: emptyOutbox });
    for (const message of entries) {
      const error = DeliveryError.closed(message.id, message.attempts > 0, context.closedBy);
      enqueue.emit({ type: 'dropped', message, error });
    }
  }),
};

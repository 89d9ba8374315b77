/**
 * Actions on the outbox: queue what the app sends (R10), put it on the wire while the
 * window allows (R1), settle it by the server's verdicts (R11), requeue what a lost link
 * left unconfirmed (R6, R8, R9, R12), withdraw it (R19) and reject everything on close
 * (R14). The bookkeeping itself is pure, in `outbox.ts`.
 */
import type { OutboundMessage } from '../adapters/transport.js';
import { connectionBase } from './connection.base.js';
import { DeliveryError } from './errors.js';
import { isLinkFailure } from './link-actor.js';
import {
  allEntries,
  emptyOutbox,
  enqueueAll,
  type OutboxChange,
  type OutboxEntry,
  requeueInFlight,
  settle,
  takeForSending,
  withdraw,
} from './outbox.js';
import type { ConnectionContext, OutgoingMessage } from './types.js';

const { enqueueActions } = connectionBase;

/** What goes on the wire: only id and data, never the outbox's own bookkeeping. */
function onTheWire(entries: readonly OutboxEntry[]): OutboundMessage[] {
  return entries.map(({ id, data }) => ({ id, data }));
}

/** The outbox with the app's messages added at the back, in order, and what fell out. */
function enqueueSent(
  context: ConnectionContext,
  event: OutgoingMessage | { messages: readonly OutgoingMessage[] },
): OutboxChange {
  const messages = 'messages' in event ? event.messages : [event];
  const { createId } = context.options;
  const entries = messages.map(
    (message): OutboxEntry => ({
      id: message.id ?? createId(),
      data: message.data,
      retry: message.retry !== false,
      attempts: 0,
      tag: message.tag,
    }),
  );
  return enqueueAll(context.outbox, entries, context.options);
}

export const outboxActions = {
  enqueue: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'send') return;
    const { outbox, dropped } = enqueueSent(context, event);
    if (outbox !== context.outbox) enqueue.assign({ outbox });
    for (const drop of dropped) enqueue.emit({ type: 'dropped', ...drop });
  }),
  pump: enqueueActions(({ context, enqueue }) => {
    const { outbox, sent } = takeForSending(context.outbox, context.options.maxInFlight);
    if (sent.length === 0) return;
    enqueue.assign({ outbox });
    enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
  }),
  // The hot path of a usable link: queue and put on the wire in one context update.
  enqueueAndSend: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'send') return;
    const queued = enqueueSent(context, event);
    const { outbox, sent } = takeForSending(queued.outbox, context.options.maxInFlight);
    if (outbox !== context.outbox) enqueue.assign({ outbox });
    for (const drop of queued.dropped) enqueue.emit({ type: 'dropped', ...drop });
    if (sent.length > 0) enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
  }),
  // Every verdict up to the first that ends the link, in order: confirmations resolve
  // their sends, refusals drop theirs (R11). What follows a link failure stays in flight
  // and is requeued with the rest.
  settleVerdicts: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'link.verdicts') return;
    let { inFlight } = context.outbox;
    let delivered: OutboxEntry[] = [];
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
      if (delivered.length > 0) enqueue.emit({ type: 'delivered', messages: delivered });
      delivered = [];
      const error =
        outcome.status === 'rejected'
          ? DeliveryError.rejected(settled.entry.id, outcome.error, outcome.httpStatus)
          : DeliveryError.rejected(settled.entry.id, undefined);
      enqueue.emit({ type: 'dropped', message: settled.entry, error });
    }
    if (inFlight !== context.outbox.inFlight)
      enqueue.assign({ outbox: { queue: context.outbox.queue, inFlight } });
    if (delivered.length > 0) enqueue.emit({ type: 'delivered', messages: delivered });
  }),
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
      const error = DeliveryError.closed(message.id, context.closedBy);
      enqueue.emit({ type: 'dropped', message, error });
    }
  }),
};

/**
 * Actions on the outbox: queue what the app sends (R10), put it on the wire while the
 * window allows (R1), settle it by the server's verdicts (R11), requeue what a lost link
 * left unconfirmed (R6, R8, R9, R12), withdraw it (R19) and reject everything on close
 * (R14). The bookkeeping itself is pure, in `outbox.ts`.
 */
import { durableLogic } from './durable.js';
import { DeliveryError } from './errors.js';
import { guarded } from './guarded.js';
import { isLinkFailure } from './link-actor.js';
import {
  allEntries,
  emptyOutbox,
  type OutboxEntry,
  requeueInFlight,
  settle,
  takeForSending,
  UNSAVED,
  withdraw,
} from './outbox.js';
import { enqueueActions } from './parent.js';
import { ACK_TIMER, armAckTimer, enqueueSent, onTheWire } from './sending.js';

export const outboxActions = {
  // Queued while no link is usable. A ready store saves it at once, as not yet sent (its
  // logic); one still opening saves it once open, so it is not sendable before (D1).
  enqueue: enqueueActions((args) => {
    const durable = durableLogic(args.context);
    if (durable !== undefined) return durable.enqueue(args);
    const { context, event, enqueue } = args;
    if (event.type !== 'send') return;
    const savedAt = context.store === undefined ? 0 : UNSAVED;
    const { outbox, dropped, nextSerial } = enqueueSent(context, event, savedAt);
    if (outbox !== context.outbox) enqueue.assign({ outbox, nextSerial });
    for (const drop of dropped) enqueue.emit({ type: 'dropped', ...drop });
  }),
  pump: enqueueActions((args) => {
    // A ready store saves as sent what goes out first (D1): its logic sends.
    const durable = durableLogic(args.context);
    if (durable !== undefined) return durable.pump(args);
    const { context, enqueue } = args;
    const saved = context.store?.saved ?? UNSAVED;
    const { outbox, sent } = takeForSending(context.outbox, context.options.maxInFlight, saved);
    if (outbox === context.outbox) return;
    enqueue.assign({ outbox });
    if (sent.length === 0) return;
    enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
    if (context.outbox.inFlight.size === 0) armAckTimer(enqueue, context);
  }),
  cancelAckTimer: enqueueActions(({ enqueue }) => enqueue.cancel(ACK_TIMER)),
  // The hot path of a usable link: queue and put on the wire in one context update.
  enqueueAndSend: enqueueActions((args) => {
    const durable = durableLogic(args.context);
    if (durable !== undefined) return durable.enqueueAndSend(args);
    const { context, event, enqueue } = args;
    if (event.type !== 'send') return;
    const queued = enqueueSent(context, event, 0);
    const { maxInFlight } = context.options;
    const saved = context.store?.saved ?? UNSAVED;
    const { outbox, sent } = takeForSending(queued.outbox, maxInFlight, saved);
    if (outbox !== context.outbox) enqueue.assign({ outbox, nextSerial: queued.nextSerial });
    for (const drop of queued.dropped) enqueue.emit({ type: 'dropped', ...drop });
    if (sent.length === 0) return;
    enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
    if (context.outbox.inFlight.size === 0) armAckTimer(enqueue, context);
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

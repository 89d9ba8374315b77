/**
 * What the send path does with the outbox, shared by the machine's own actions
 * (`outbox.actions.ts`) and a store's (`store.sending.ts`): the app's messages into the
 * outbox, the wire's view of an entry, the ack timer. It imports no part of the machine's
 * setup, so a store's logic can use it without bringing the machine along.
 */
import type { OutboundMessage } from '../adapters/transport.js';
import { DeliveryError } from './errors.js';
import {
  type Dropped,
  enqueueAll,
  isOverLimit,
  jsonBytes,
  type OutboxChange,
  type OutboxEntry,
  UNSAVED,
} from './outbox.js';
import type { CollectArgs } from './parent.js';
import type { ConnectionContext, OutgoingMessage } from './types.js';

/** What goes on the wire: id, data and its JSON, never the outbox's own bookkeeping. */
export function onTheWire(entries: readonly OutboxEntry[]): OutboundMessage[] {
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
export function enqueueSent(
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

/** The id of the one delayed `ack.timeout` event, so it can be cancelled and re-armed. */
export const ACK_TIMER = 'ackTimeout';

/** The `enqueue` an action of the machine is given. */
export type Enqueue = CollectArgs['enqueue'];

/**
 * Start the ack timer for a new head of the in-flight queue: the oldest unconfirmed
 * message gets `ackTimeoutMs` (0: never) to be confirmed on a link that is alive.
 */
export function armAckTimer(enqueue: Enqueue, context: ConnectionContext): void {
  const ms = context.options.ackTimeoutMs;
  if (ms > 0) enqueue.raise({ type: 'ack.timeout' }, { id: ACK_TIMER, delay: ms });
}

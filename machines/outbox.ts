/**
 * The outbox: messages waiting to be sent (`queue`) and messages on the wire waiting for
 * the server's verdict (`inFlight`), both in send order. Pure functions over persistent
 * queues, O(1) per message on the common paths, so machine context is never mutated.
 */
import { DeliveryError } from './errors.js';
import {
  emptyQueue,
  peek,
  push,
  pushAll,
  type Queue,
  removeFirst,
  shift,
  takeFront,
  toArray,
  unshiftAll,
} from './queue.js';

export interface OutboxEntry {
  /** Never changes, so every resend carries it (R7). */
  readonly id: string;
  /** Its place in send order within the session (protocol v2), from 1; kept on resends. */
  readonly serial: number;
  readonly data: unknown;
  /** `data` as JSON, serialised once when it was sent; what a transport puts on the wire. */
  readonly json: string;
  /** `false` for a notice that makes no sense to resend (R9). */
  readonly retry: boolean;
  /** How often it has been put on the wire; 0 means it may still be withdrawn (R19). */
  readonly attempts: number;
  /** The sender's own handle, handed back with the verdict (`OutgoingMessage.tag`). */
  readonly tag?: unknown;
  /**
   * With a store: the number of the store write that saves it as sent; it goes on the wire
   * only once that write is durable (D1). `UNSAVED` until such a write was asked for; 0
   * without a store.
   */
  readonly savedAt: number;
}

/** `savedAt` of an entry not yet saved as sent: it may not go on the wire (D1). */
export const UNSAVED = Number.POSITIVE_INFINITY;

/** A message that will not be delivered, and why. */
export interface Dropped {
  readonly message: OutboxEntry;
  readonly error: DeliveryError;
}

export interface Outbox {
  readonly queue: Queue<OutboxEntry>;
  readonly inFlight: Queue<OutboxEntry>;
}

export interface OutboxLimits {
  readonly maxQueue: number;
  readonly overflow: 'reject' | 'drop-oldest';
  readonly maxInFlight: number;
  readonly maxDeliveryAttempts: number;
}

/** A new outbox and the messages that fell out of the old one. */
export interface OutboxChange {
  readonly outbox: Outbox;
  readonly dropped: readonly Dropped[];
}

export const emptyOutbox: Outbox = { queue: emptyQueue(), inFlight: emptyQueue() };

export function outboxSize(outbox: Outbox): number {
  return outbox.queue.size + outbox.inFlight.size;
}

/** Add a message at the back, keeping queued + in flight within `maxQueue` (R10). */
export function enqueue(outbox: Outbox, entry: OutboxEntry, limits: OutboxLimits): OutboxChange {
  if (outboxSize(outbox) < limits.maxQueue) {
    return { outbox: { ...outbox, queue: push(outbox.queue, entry) }, dropped: [] };
  }
  const oldest = peek(outbox.queue);
  if (limits.overflow === 'drop-oldest' && oldest !== undefined) {
    return {
      outbox: { ...outbox, queue: push(shift(outbox.queue), entry) },
      dropped: [
        {
          message: oldest,
          error: DeliveryError.overflow(oldest.id, limits.maxQueue, 'oldest', oldest.attempts > 0),
        },
      ],
    };
  }
  const why = limits.overflow === 'drop-oldest' ? 'all-in-flight' : 'full';
  return {
    outbox,
    dropped: [{ message: entry, error: DeliveryError.overflow(entry.id, limits.maxQueue, why) }],
  };
}

const NOTHING_DROPPED: readonly Dropped[] = [];

/** Add messages at the back in order, under the bound of `enqueue`. O(1) per message. */
export function enqueueAll(
  outbox: Outbox,
  entries: readonly OutboxEntry[],
  limits: OutboxLimits,
): OutboxChange {
  if (outboxSize(outbox) + entries.length <= limits.maxQueue) {
    return {
      outbox: { queue: pushAll(outbox.queue, entries), inFlight: outbox.inFlight },
      dropped: NOTHING_DROPPED,
    };
  }
  // Past the bound the overflow policy decides message by message.
  let next = outbox;
  const dropped: Dropped[] = [];
  for (const entry of entries) {
    const change = enqueue(next, entry, limits);
    next = change.outbox;
    dropped.push(...change.dropped);
  }
  return { outbox: next, dropped };
}

/**
 * Move messages from the head of the queue onto the wire while the window allows, and
 * only those a store holds as sent (`savedAt` at most `saved`, D1).
 */
export function takeForSending(
  outbox: Outbox,
  maxInFlight: number,
  saved: number,
): { outbox: Outbox; sent: OutboxEntry[] } {
  const room = maxInFlight - outbox.inFlight.size;
  const { taken, rest } =
    saved === UNSAVED
      ? takeFront(outbox.queue, room)
      : takeFront(outbox.queue, room, (entry) => entry.savedAt > saved);
  if (taken.length === 0) return { outbox, sent: taken };
  const sent = taken.map((entry) => ({ ...entry, attempts: entry.attempts + 1 }));
  return { outbox: { queue: rest, inFlight: pushAll(outbox.inFlight, sent) }, sent };
}

/**
 * Take a message off the wire once its verdict is in: the in-flight queue without it.
 * O(1) when verdicts come in order.
 */
export function settle(
  inFlight: Queue<OutboxEntry>,
  id: string,
): { inFlight: Queue<OutboxEntry>; entry?: OutboxEntry } {
  const head = peek(inFlight);
  if (head?.id === id) return { inFlight: shift(inFlight), entry: head };
  const entry = toArray(inFlight).find((e) => e.id === id);
  if (entry === undefined) return { inFlight };
  return { inFlight: removeFirst(inFlight, (e) => e.id === id), entry };
}

/**
 * The link is gone: every unconfirmed message goes back to the head of the queue in order
 * (R1, R6, R12), except those that may not be resent: `retry: false` (R9) and those sent
 * `maxDeliveryAttempts` times already (R8). The count is unchanged or smaller, so the
 * bound holds on this path too (R10).
 */
export function requeueInFlight(outbox: Outbox, maxDeliveryAttempts: number): OutboxChange {
  if (outbox.inFlight.size === 0) return { outbox, dropped: [] };
  const back: OutboxEntry[] = [];
  const dropped: Dropped[] = [];
  for (const entry of toArray(outbox.inFlight)) {
    if (!entry.retry) {
      dropped.push({ message: entry, error: DeliveryError.notRetried(entry.id) });
    } else if (entry.attempts >= maxDeliveryAttempts) {
      dropped.push({
        message: entry,
        error: DeliveryError.attemptsExhausted(entry.id, entry.attempts, maxDeliveryAttempts),
      });
    } else {
      back.push(entry);
    }
  }
  return { outbox: { queue: unshiftAll(outbox.queue, back), inFlight: emptyQueue() }, dropped };
}

/** Withdraw a message that has never been on the wire (R19); anything else stays. */
export function withdraw(outbox: Outbox, id: string): { outbox: Outbox; entry?: OutboxEntry } {
  const entry = toArray(outbox.queue).find((e) => e.id === id);
  if (entry === undefined || entry.attempts > 0) return { outbox };
  return { outbox: { ...outbox, queue: removeFirst(outbox.queue, (e) => e.id === id) }, entry };
}

/** Every message in the outbox, in flight first (they were sent first), then queued. */
export function allEntries(outbox: Outbox): OutboxEntry[] {
  return [...toArray(outbox.inFlight), ...toArray(outbox.queue)];
}

/**
 * The size of `json` in bytes of UTF-8, without encoding it when it is short enough that
 * it cannot be over any sane limit (every UTF-16 unit is at most 3 bytes).
 */
export function jsonBytes(json: string): number {
  let bytes = json.length;
  for (let i = 0; i < json.length; i++) {
    const unit = json.charCodeAt(i);
    if (unit < 0x80) continue;
    // 2 bytes below 0x800; 3 for the rest of the BMP; a surrogate pair is 4 for 2 units.
    bytes += unit < 0x800 ? 1 : unit >= 0xd800 && unit <= 0xdfff ? 1 : 2;
  }
  return bytes;
}

/** Whether `json` is over `maxBytes` of UTF-8; counts bytes only when it could be. */
export function isOverLimit(json: string, maxBytes: number): boolean {
  if (json.length > maxBytes) return true;
  if (json.length * 3 <= maxBytes) return false;
  return jsonBytes(json) > maxBytes;
}

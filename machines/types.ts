import type { InboundFrame, StreamPosition } from '../adapters/transport.js';
import type { ConnectionError, DeliveryError } from './errors.js';
import type { LinkEvent } from './link-actor.js';
import type { ResolvedOptions } from './options.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { Positions } from './positions.js';
import type { StoreEvent } from './store-actor.js';

export interface ConnectionContext {
  readonly options: ResolvedOptions;
  readonly outbox: Outbox;
  /**
   * Watched streams and the last seq seen on each, in the order they were watched: a
   * persistent `ReadonlyMap` (O(1) per frame), which also remembers streams unwatched lately.
   */
  readonly positions: Positions;
  /** The backoff attempt number of the current reconnect (R17); 0 once open. */
  readonly backoffAttempt: number;
  /** The wait before the next link attempt, from `backoff(attempt)`. */
  readonly backoffMs: number;
  /** Link attempts since the last usable link, the current one included (R17). */
  readonly linkAttempts: number;
  /**
   * Messages a `delivery: 'written'` transport wrote on the current link (resolved
   * unconfirmed): reported as `unconfirmed` if the link is lost. Always 0 otherwise.
   */
  readonly written: number;
  /** The serial the next message entering the outbox gets (protocol v2). */
  readonly nextSerial: number;
  /** The session id every link carries: the option's, or the one a store restored. */
  readonly session: string;
  /**
   * The durable store's side of the outbox; `undefined` while the outbox lives in memory
   * only (no store, or it fell back to memory): an idle connection without a store pays
   * one field for it.
   */
  readonly store?: StoreState | undefined;
  /** The last link was refused for its credentials: one more refusal in a row closes (R17). */
  readonly authRefused: boolean;
  /** The heartbeat interval the current link's server announced, in ms; 0 if none. */
  readonly serverHeartbeatMs: number;
  /** Why the connection closed, when it was not the app's own `close()`. */
  readonly closedBy: ConnectionError | undefined;
}

/**
 * A message the app sends; without an `id` the machine makes one with `createId`.
 * `TSend` types `data` for an app that builds these itself (an embedding parent).
 */
export interface OutgoingMessage<TSend = unknown> {
  readonly id?: string;
  readonly data: TSend;
  /** `data` as JSON, when the sender serialised it already; else the machine does. */
  readonly json?: string;
  /** `false`: never resend it (R9). Default `true`. */
  readonly retry?: boolean;
  /**
   * Anything of the sender's: handed back with the message in `delivered` and `dropped`,
   * so the sender can settle its own bookkeeping without looking the id up.
   */
  readonly tag?: unknown;
}

/**
 * What the app (or `createConnection`) tells the machine: the events it takes from
 * outside. `ConnectionEvent<ChatLine>` lets only a `ChatLine` be sent.
 */
export type ConnectionEvent<TSend = unknown> =
  /** One message, or several queued in this order (`createConnection` sends a tick's worth). */
  | ({ type: 'send' } & (OutgoingMessage<TSend> | { messages: readonly OutgoingMessage<TSend>[] }))
  | { type: 'abort'; id: string }
  | { type: 'watch'; stream: string; seq?: number; epoch?: string }
  | { type: 'unwatch'; stream: string }
  | { type: 'suspend' }
  | { type: 'resume' }
  | { type: 'close' };

/** Everything the machine handles: the app's events and its own link actor's. */
export type MachineEvent =
  | ConnectionEvent
  | LinkEvent
  | StoreEvent
  /** The message at the head of the in-flight queue waited `ackTimeoutMs` (raised, delayed). */
  | { type: 'ack.timeout' };

/** What the machine tells its observers (`actor.on(type, fn)`). */
export type ConnectionEmitted =
  /**
   * Confirmed by the server, in send order: every confirmation of one verdict batch.
   * `confirmed: false` when the transport only knows they were written
   * (`delivery: 'written'`).
   */
  | { type: 'delivered'; messages: readonly OutboxEntry[]; confirmed: boolean }
  | { type: 'dropped'; error: DeliveryError; message: OutboxEntry }
  | { type: 'message'; data: unknown; frame: InboundFrame }
  /**
   * Once, when the store opened (D3): the messages it held, in serial order, sent before
   * anything new. Each settles later by `delivered` or `dropped` like any other.
   */
  | { type: 'restored'; messages: readonly OutboxEntry[] }
  | { type: 'error'; error: ConnectionError };

/** Where a connection with a store stands with it (durable.md). */
export interface StoreState {
  /** `opening`: waiting for the store (the machine stays in connecting); `ready`: open. */
  readonly status: 'opening' | 'ready';
  /**
   * Streams the app watched without a position while the store was opening: a position
   * the store restores replaces theirs (D3). Empty once the store opened.
   */
  readonly watchedUnpositioned: ReadonlySet<string>;
  /**
   * Nothing more goes on the wire until the store request of this number is durable: the
   * removal of a message the store may hold that was dropped before it was ever sent. Were
   * it restored after a crash, its serial would sit below later ones the server took, and
   * the server would answer it as a duplicate it never had.
   */
  readonly barrier: number;
  /** The number of the last store write request that must become durable. */
  readonly requested: number;
  /**
   * Every store request up to this one is durable: an entry whose `savedAt` is at most
   * this may go on the wire (D1).
   */
  readonly saved: number;
}

export type { ConnectionInput } from './options.js';

export function positionList(positions: Positions): StreamPosition[] {
  return positions.list();
}

import type { InboundFrame } from '../adapters/transport.js';
import type { ConnectionError, DeliveryError } from '../machines/errors.js';
import type { TopLevelState } from '../machines/parent.js';

export type {
  InboundFrame,
  Link,
  LinkClose,
  LinkEvents,
  LinkOptions,
  LinkWelcome,
  OutboundMessage,
  SendOutcome,
  StreamHead,
  StreamPosition,
  Transport,
} from '../adapters/transport.js';

/** The six states of spec §4; substates are internal. */
export type ConnectionState = TopLevelState;

/** The minimal `AbortSignal` a send accepts. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface SendOptions {
  /**
   * The message id, kept for life (R7). Must not be pending already.
   * @default options.createId()
   */
  id?: string;
  /**
   * `false` for a notice that makes no sense to resend: sent at most once (R9).
   * @default true
   */
  retry?: boolean;
  /** Withdraws the message while it has never been on the wire (R19). */
  signal?: AbortSignalLike;
}

/**
 * What a `send()` resolves with. `confirmed: true`: the server has the message.
 * `confirmed: false`: the transport only knows it was written (`delivery: 'written'`, a
 * wire without acks); if that link is lost, an `unconfirmed` error counts such messages.
 */
export interface SendReceipt {
  readonly confirmed: boolean;
}

/**
 * A message a store restored (durable.md D3): sent before the process or page that sent
 * it died, and not yet settled. Its `send()` promise died with that process; `settled`
 * takes its place.
 */
export interface RestoredMessage<TSend = unknown> {
  readonly id: string;
  /** The data as it was sent (parsed back from its JSON). */
  readonly data: TSend;
  /** Resolves once the server confirmed it; rejects with a `DeliveryError` if it is dropped. */
  readonly settled: Promise<void>;
}

/** The listeners `on()` accepts, by event name; `TReceive` types incoming frames' data. */
export interface ConnectionEventMap<TReceive = unknown> {
  /** The top-level state changed. */
  state: (to: ConnectionState, from: ConnectionState) => void;
  /** Entered open: every queued message was flushed and confirmed. */
  open: () => void;
  /** An application frame from the server (duplicates of watched streams filtered out). */
  message: (data: TReceive, frame: InboundFrame) => void;
  /** A send will not be delivered; fires for every send whose promise rejects. */
  dropped: (error: DeliveryError) => void;
  /** Link failures, timeouts, protocol errors, gaps, resets, lost sessions, store failures. */
  error: (error: ConnectionError) => void;
  /**
   * Once, when the store opened (only with `store`), before any of them settles: the
   * messages it held, in the order they are sent. Possibly none.
   */
  restored: (messages: readonly RestoredMessage[]) => void;
}

export type ConnectionEventName = keyof ConnectionEventMap;

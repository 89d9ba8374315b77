import type { InboundFrame } from '../adapters/transport.js';
import type { ConnectionError, DeliveryError } from '../machines/errors.js';

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
export type ConnectionState =
  | 'connecting'
  | 'open'
  | 'reconnecting'
  | 'flushing'
  | 'suspended'
  | 'closed';

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

/** The listeners `on()` accepts, by event name. */
export interface ConnectionEventMap {
  /** The top-level state changed. */
  state: (to: ConnectionState, from: ConnectionState) => void;
  /** Entered open: every queued message was flushed and confirmed. */
  open: () => void;
  /** An application frame from the server (duplicates of watched streams filtered out). */
  message: (data: unknown, frame: InboundFrame) => void;
  /** A send will not be delivered; fires for every send whose promise rejects. */
  dropped: (error: DeliveryError) => void;
  /** Link failures, timeouts, protocol errors, gaps. */
  error: (error: ConnectionError) => void;
}

export type ConnectionEventName = keyof ConnectionEventMap;

import { describeError } from '../adapters/describe.js';
import { ConnectionError } from './connection-error.js';
import { HoldfastError, type HoldfastErrorOptions } from './error-base.js';

export { describeError, describeValue, invalidArgument } from '../adapters/describe.js';
export { ConnectionError, type ConnectionErrorOptions } from './connection-error.js';
export { HoldfastError, type HoldfastErrorOptions } from './error-base.js';

/**
 * One error class per concept. Every class sets `name`, and every guard also compares
 * `name`, because `instanceof` fails when the error crossed a realm (iframe, worker,
 * a second copy of the package).
 */

/** Why a sent message will not be delivered. */
export type DeliveryFailure =
  /** The connection was closed (by `close()`, a fatal close or exhausted retries). */
  | 'closed'
  /** The outbox was full (`maxQueue`). */
  | 'overflow'
  /** The server refused the message for good. */
  | 'rejected'
  /** The message was sent `maxDeliveryAttempts` times without success. */
  | 'attempts-exhausted'
  /** A `retry: false` message met an outcome that would have needed a resend. */
  | 'not-retried'
  /** The send's `signal` aborted it before it was ever on the wire. */
  | 'aborted'
  /** Its data serialises to more than `maxMessageBytes`; it was never queued. */
  | 'too-large'
  /** Its data does not serialise to JSON (only for events sent to the machine directly). */
  | 'invalid'
  /** The server forgot the session while it was on the wire; `onSessionLost: 'reject'`. */
  | 'unconfirmed'
  /** The durable store could not save it, so it was never put on the wire (D6). */
  | 'store';

/** What went wrong with the connection. */
export type ConnectionFailure =
  /** The link was lost or refused, or a send or resume on it failed in passing. */
  | 'link'
  /** The server no longer knows this link (a send answered `stale`, e.g. HTTP 404). */
  | 'stale'
  /** Connecting, resuming or the heartbeat took too long. */
  | 'timeout'
  /** The peer broke the protocol. */
  | 'protocol'
  /** Frames of a watched stream were skipped. */
  | 'gap'
  /** The server refused this client for good. */
  | 'fatal'
  /** The server refused this client's credentials twice in a row (HTTP 401/403, 4001/4003). */
  | 'auth'
  /** `maxAttempts` consecutive link attempts failed. */
  | 'retries-exhausted'
  /** A v2 server no longer knows the session, with messages on the wire unconfirmed. */
  | 'session-lost'
  /** A watched stream's log started over (a new epoch, or a head behind the position). */
  | 'reset'
  /**
   * A link of a transport with `delivery: 'written'` (no acks) ended after messages were
   * written on it: any of them may never have arrived. `count` says how many.
   */
  | 'unconfirmed'
  /**
   * The durable store failed: it could not be opened, a write failed, or records in it
   * could not be read (`count` of them). Messages it could not save are rejected with
   * reason `store`; one it cannot open closes the connection unless `storeFallback`.
   */
  | 'store'
  /** Another live connection owns the store: this one waits in `connecting` (D5). */
  | 'store-busy';

export interface DeliveryErrorOptions extends HoldfastErrorOptions {
  /** Whether the message was put on the wire at least once. @default false */
  sent?: boolean;
}

/** A message that will not be delivered; its `send()` promise rejects with this. */
export class DeliveryError extends HoldfastError {
  override name = 'DeliveryError';
  readonly reason: DeliveryFailure;
  readonly messageId: string;
  /**
   * Whether the message was put on the wire at least once: then the server may have it
   * (and, with sessions, handle it once) even though it was never confirmed.
   */
  readonly sent: boolean;
  constructor(
    reason: DeliveryFailure,
    messageId: string,
    message: string,
    options?: DeliveryErrorOptions,
  ) {
    super(message, options);
    this.reason = reason;
    this.messageId = messageId;
    this.sent = options?.sent === true;
  }

  // Every DeliveryError holdfast makes, worded here once, from its fields.

  /** The connection closed with the message still pending; `cause` says why it closed. */
  static closed(id: string, sent: boolean, cause?: ConnectionError): DeliveryError {
    const why = cause === undefined ? '' : ` (${describeClose(cause)})`;
    return new DeliveryError(
      'closed',
      id,
      `holdfast: message ${id} not delivered: the connection is closed${why}${sentNote(sent)}`,
      { cause, sent },
    );
  }

  /** The outbox was full; `oldest`: it was the oldest queued and made room for a newer one. */
  static overflow(
    id: string,
    maxQueue: number,
    why: 'full' | 'oldest' | 'all-in-flight',
    sent = false,
  ): DeliveryError {
    const detail = {
      full: '',
      oldest: ' and it was the oldest queued',
      'all-in-flight': ' and every message in it is in flight',
    }[why];
    return new DeliveryError(
      'overflow',
      id,
      `holdfast: message ${id} dropped: the outbox is full (maxQueue ${maxQueue})${detail}${sentNote(sent)}`,
      { sent },
    );
  }

  /** The server refused it for good; `cause` is what the server said (untrusted). */
  static rejected(id: string, cause: unknown, httpStatus?: number): DeliveryError {
    const status = httpStatus === undefined ? '' : ` (HTTP ${httpStatus})`;
    const why = cause === undefined ? '' : `: ${describeError(cause)}`;
    return new DeliveryError(
      'rejected',
      id,
      `holdfast: the server rejected message ${id}${status}${why}`,
      { cause, sent: true },
    );
  }

  static attemptsExhausted(id: string, attempts: number, max: number): DeliveryError {
    return new DeliveryError(
      'attempts-exhausted',
      id,
      `holdfast: message ${id} was sent ${attempts} times without success (maxDeliveryAttempts ${max}); the server may have it`,
      { sent: true },
    );
  }

  static notRetried(id: string): DeliveryError {
    return new DeliveryError(
      'not-retried',
      id,
      `holdfast: message ${id} was sent with retry: false and needs a resend; the server may have it`,
      { sent: true },
    );
  }

  static aborted(id: string): DeliveryError {
    return new DeliveryError(
      'aborted',
      id,
      `holdfast: message ${id} was aborted before it was sent`,
    );
  }

  /** Its serialised data is over `maxMessageBytes`: refused at the call, never queued. */
  static tooLarge(id: string, bytes: number, maxMessageBytes: number): DeliveryError {
    return new DeliveryError(
      'too-large',
      id,
      `holdfast: message ${id} is ${bytes} bytes of JSON, over maxMessageBytes ${maxMessageBytes}`,
    );
  }

  /** The server forgot the session with this message unconfirmed; it may have it. */
  static unconfirmed(id: string): DeliveryError {
    return new DeliveryError(
      'unconfirmed',
      id,
      `holdfast: message ${id} is unconfirmed: the server forgot the session it was sent in, so it may or may not have it (onSessionLost: 'reject')`,
      { sent: true },
    );
  }

  /** Its data does not serialise to JSON (a machine `send` event; `send()` throws instead). */
  static invalid(id: string, cause: unknown): DeliveryError {
    return new DeliveryError(
      'invalid',
      id,
      `holdfast: message ${id} was not queued: its data does not serialise to JSON (${describeError(cause)})`,
      { cause },
    );
  }
}

/** Said of a message that was on the wire: the server may have it after all. */
function sentNote(sent: boolean): string {
  return sent ? '; it was sent, so the server may have it' : '';
}

/** Why a connection closed, in a few words, for the message of what it dropped. */
function describeClose(cause: ConnectionError): string {
  return [
    cause.kind,
    cause.code === undefined ? '' : `code ${cause.code}`,
    cause.status === undefined ? '' : `HTTP ${cause.status}`,
  ]
    .filter(Boolean)
    .join(', ');
}

function hasName(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && (value as { name?: unknown }).name === name;
}

/** True for any error holdfast made, from this realm or another. */
export function isHoldfastError(value: unknown): value is HoldfastError {
  return (
    value instanceof HoldfastError ||
    hasName(value, 'HoldfastError') ||
    isDeliveryError(value) ||
    isConnectionError(value)
  );
}

/** True for a `DeliveryError`, from this realm or another. */
export function isDeliveryError(value: unknown): value is DeliveryError {
  return value instanceof DeliveryError || hasName(value, 'DeliveryError');
}

/** True for a `ConnectionError`, from this realm or another. */
export function isConnectionError(value: unknown): value is ConnectionError {
  return value instanceof ConnectionError || hasName(value, 'ConnectionError');
}

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
  | 'aborted';

/** What went wrong with the connection. */
export type ConnectionFailure =
  /** The link was lost, refused, or reported stale. */
  | 'link'
  /** Connecting, resuming or the heartbeat took too long. */
  | 'timeout'
  /** The peer broke the protocol. */
  | 'protocol'
  /** Frames of a watched stream were skipped. */
  | 'gap'
  /** The server refused this client for good. */
  | 'fatal'
  /** `maxAttempts` consecutive link attempts failed. */
  | 'retries-exhausted';

export interface HoldfastErrorOptions {
  cause?: unknown;
}

/** The base of every error holdfast reports. */
export class HoldfastError extends Error {
  override name = 'HoldfastError';
  constructor(message: string, options?: HoldfastErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** A message that will not be delivered; its `send()` promise rejects with this. */
export class DeliveryError extends HoldfastError {
  override name = 'DeliveryError';
  readonly reason: DeliveryFailure;
  readonly messageId: string;
  constructor(
    reason: DeliveryFailure,
    messageId: string,
    message: string,
    options?: HoldfastErrorOptions,
  ) {
    super(message, options);
    this.reason = reason;
    this.messageId = messageId;
  }
}

export interface ConnectionErrorOptions extends HoldfastErrorOptions {
  /** A close code from the wire, where known. */
  code?: number;
  /** An HTTP status, where known. */
  status?: number;
}

/** Something that went wrong with the connection (reported through `on('error')`). */
export class ConnectionError extends HoldfastError {
  override name = 'ConnectionError';
  readonly kind: ConnectionFailure;
  readonly code: number | undefined;
  readonly status: number | undefined;
  constructor(kind: ConnectionFailure, message: string, options?: ConnectionErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.code = options?.code;
    this.status = options?.status;
  }
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

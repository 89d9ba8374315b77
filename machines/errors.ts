import { describeError, describeValue } from '../adapters/describe.js';
import type { LinkClose } from '../adapters/transport.js';

export { describeError, describeValue, invalidArgument } from '../adapters/describe.js';

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
  | 'unconfirmed';

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
  | 'reset';

export interface HoldfastErrorOptions {
  cause?: unknown;
}

export interface DeliveryErrorOptions extends HoldfastErrorOptions {
  /** Whether the message was put on the wire at least once. @default false */
  sent?: boolean;
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

export interface ConnectionErrorOptions extends HoldfastErrorOptions {
  /** A close code from the wire, where known. */
  code?: number;
  /** An HTTP status, where known. */
  status?: number;
  /** The stream of a `gap` or `reset`. */
  stream?: string;
  /** How many messages a `session-lost` affects, or frames a `gap` misses. */
  count?: number;
}

/** Something that went wrong with the connection (reported through `on('error')`). */
export class ConnectionError extends HoldfastError {
  override name = 'ConnectionError';
  readonly kind: ConnectionFailure;
  readonly code: number | undefined;
  readonly status: number | undefined;
  /** The stream of a `gap` or `reset`; undefined for the other kinds. */
  readonly stream: string | undefined;
  /** `session-lost`: the messages affected; `gap`: the frames missing; else undefined. */
  readonly count: number | undefined;
  constructor(kind: ConnectionFailure, message: string, options?: ConnectionErrorOptions) {
    super(message, options);
    this.kind = kind;
    this.code = options?.code;
    this.status = options?.status;
    this.stream = options?.stream;
    this.count = options?.count;
  }

  // Every ConnectionError holdfast makes, worded here once, from its fields.

  /** The link reported itself gone: lost, refused for good (`fatal`), or broke the protocol. */
  static linkClosed(info: LinkClose, authRefusedBefore = false): ConnectionError {
    const kind = info.fatal
      ? 'fatal'
      : info.auth
        ? authRefusedBefore
          ? 'auth'
          : 'link'
        : info.protocol
          ? 'protocol'
          : 'link';
    const what = info.auth
      ? authRefusedBefore
        ? 'the server refused the credentials twice in a row'
        : 'the server refused the credentials; trying once more with fresh ones'
      : {
          fatal: 'the server refused this client for good',
          protocol: 'the server broke the protocol; reconnecting',
          link: 'the link was lost',
          auth: '',
        }[kind];
    const detail = [
      info.code === undefined ? '' : `code ${info.code}`,
      info.httpStatus === undefined ? '' : `HTTP ${info.httpStatus}`,
      info.reason ?? '',
    ]
      .filter(Boolean)
      .join(': ');
    return new ConnectionError(kind, `holdfast: ${what}${detail ? ` (${detail})` : ''}`, {
      cause: info.error,
      code: info.code,
      status: info.httpStatus,
    });
  }

  /** A send answered `stale`: the server no longer knows this link. */
  static stale(httpStatus?: number): ConnectionError {
    return new ConnectionError(
      'stale',
      `holdfast: the server no longer knows this link${httpStatus === undefined ? '' : ` (HTTP ${httpStatus})`}; reconnecting`,
      { status: httpStatus },
    );
  }

  /** A send answered `retry`: it failed for a passing reason. */
  static sendFailed(cause: unknown, httpStatus?: number): ConnectionError {
    return new ConnectionError(
      'link',
      `holdfast: a send failed for a passing reason${httpStatus === undefined ? '' : ` (HTTP ${httpStatus})`}; reconnecting`,
      { cause, status: httpStatus },
    );
  }

  /** A resume was refused or failed; `cause` is what `Link.resume()` rejected with. */
  static resumeFailed(cause: unknown): ConnectionError {
    const httpStatus = httpStatusOf(cause);
    return new ConnectionError(
      'link',
      `holdfast: the server did not resume the watched streams${httpStatus === undefined ? '' : ` (HTTP ${httpStatus})`}`,
      { cause, status: httpStatus },
    );
  }

  /** Opening the link, the resume handshake or the silence on a link took too long. */
  static timeout(what: 'connect' | 'resume' | 'heartbeat' | 'ack', ms: number): ConnectionError {
    const waited = {
      connect: 'opening the link',
      resume: 'the resume handshake',
      heartbeat: 'silence on the link',
      ack: 'waiting for the server to confirm a message on a link that is alive',
    }[what];
    return new ConnectionError('timeout', `holdfast: ${waited} took longer than ${ms} ms`);
  }

  /** `maxAttempts` link attempts in a row failed. */
  static retriesExhausted(attempts: number, maxAttempts: number): ConnectionError {
    return new ConnectionError(
      'retries-exhausted',
      `holdfast: ${attempts} link attempts in a row failed (maxAttempts ${maxAttempts})`,
    );
  }

  /** The link delivered a frame that breaks the protocol; `what` says how. */
  static badFrame(what: string): ConnectionError {
    return new ConnectionError('protocol', `holdfast: the link delivered ${what}`);
  }

  /** A v2 server no longer knows the session; `count` messages were on the wire unconfirmed. */
  static sessionLost(count: number, policy: 'resend' | 'reject'): ConnectionError {
    const then =
      policy === 'resend'
        ? 'they are sent again, so the server may get them twice'
        : "they are rejected as 'unconfirmed'";
    return new ConnectionError(
      'session-lost',
      `holdfast: the server no longer knows this session; ${count} message(s) were sent and not confirmed: ${then}`,
      { count },
    );
  }

  /** A watched stream's log started over: events after `seq` of the old log may be lost. */
  static reset(stream: string, seq: number, epoch: string): ConnectionError {
    return new ConnectionError(
      'reset',
      `holdfast: stream ${describeValue(stream)} started over (epoch ${describeValue(epoch)}); it was at seq ${seq} of the old log, and events after it there may never be seen`,
      { stream },
    );
  }

  /** Frames `from + 1` … `to − 1` of a watched stream never came. */
  static gap(stream: string, from: number, to: number): ConnectionError {
    return new ConnectionError(
      'gap',
      `holdfast: stream ${describeValue(stream)} jumped from seq ${from} to ${to}; ${to - from - 1} frame(s) missing`,
      { stream, count: to - from - 1 },
    );
  }
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

/** The HTTP status a transport put on an error (`httpStatus`), if it is one. */
function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { httpStatus?: unknown } | null | undefined)?.httpStatus;
  return typeof error === 'object' &&
    Number.isInteger(status) &&
    (status as number) >= 100 &&
    (status as number) <= 599
    ? (status as number)
    : undefined;
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

import { describeValue } from '../adapters/describe.js';
import type { LinkClose } from '../adapters/transport.js';
import { HoldfastError, type HoldfastErrorOptions, httpStatusOf } from './error-base.js';
import type { ConnectionFailure } from './errors.js';

export interface ConnectionErrorOptions extends HoldfastErrorOptions {
  /** A close code from the wire, where known. */
  code?: number;
  /** An HTTP status, where known. */
  status?: number;
  /** The stream of a `gap` or `reset`. */
  stream?: string;
  /** How many messages a `session-lost` or `unconfirmed` affects, or frames a `gap` misses. */
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
  /**
   * `session-lost`: the messages affected; `unconfirmed`: the messages written on the lost
   * link; `gap`: the frames missing; else undefined.
   */
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

  /**
   * A link of a `delivery: 'written'` transport ended (lost, suspended, replaced or
   * closed) after `count` messages were written on it and resolved unconfirmed: the
   * server may never have got some of them.
   */
  static unconfirmedWrites(count: number): ConnectionError {
    return new ConnectionError(
      'unconfirmed',
      `holdfast: a link ended after ${count} message(s) were written on it without confirmation (delivery 'written'): some may never have reached the server`,
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

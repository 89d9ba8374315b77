import { fromCallback } from 'xstate';
import type {
  InboundFrame,
  Link,
  LinkClose,
  OutboundMessage,
  SendOutcome,
  StreamHead,
  StreamPosition,
  Transport,
} from '../adapters/transport.js';
import { invalidArgument } from './errors.js';
import { field } from './peer-field.js';

/** What the machine asks of its link. */
export type LinkCommand =
  /** Put these messages on the wire, in this order. */
  | { type: 'link.send'; messages: readonly OutboundMessage[] }
  /** `handshake`: the resume every new link starts with; `watch`: one stream watched later. */
  | { type: 'link.resume'; positions: readonly StreamPosition[]; purpose: 'handshake' | 'watch' }
  | { type: 'link.suspend'; positions: readonly StreamPosition[] }
  /** Stop these streams on this link (protocol v2); at most 100 per call. */
  | { type: 'link.unwatch'; streams: readonly string[] };

/** What the link tells the machine. */
export type LinkEvent =
  /** `heartbeatMs`: the interval the server announced, when it is a sane one; else 0. */
  | {
      type: 'link.open';
      heartbeatMs: number;
      /** What a v2 server remembers of the session; undefined from a v1 server. */
      session?: { known: boolean; handled: number };
    }
  /** A v2 server's `stream` frame: a stream's epoch and head, before its replay. */
  | { type: 'link.stream'; head: StreamHead }
  | { type: 'link.frame'; frame: InboundFrame }
  | { type: 'link.alive' }
  | { type: 'link.closed'; info: LinkClose }
  | { type: 'link.resumed' }
  | { type: 'link.resume-failed'; error: unknown }
  | { type: 'link.watch-failed'; error: unknown }
  /** Verdicts on sends, in the order they came in: every verdict of one tick at once. */
  | { type: 'link.verdicts'; verdicts: readonly Verdict[] };

/** The server's verdict on one message. */
export interface Verdict {
  readonly id: string;
  readonly outcome: SendOutcome;
}

/** Streams named in one resume request; more make several, one after the other. */
export const MAX_STREAMS_PER_RESUME = 100;

/**
 * The longest heartbeat interval a server may announce and have honoured: a broken
 * server or proxy must not switch off the detection of a dead link.
 */
export const MAX_ANNOUNCED_HEARTBEAT_MS = 5 * 60_000;

/** The heartbeat interval a server announced, if it is a positive number of ms; else 0. */
function heartbeatOf(welcome: unknown): number {
  try {
    const ms = (welcome as { heartbeatMs?: unknown } | null | undefined)?.heartbeatMs;
    if (typeof ms === 'number' && Number.isFinite(ms) && ms > 0)
      return Math.min(ms, MAX_ANNOUNCED_HEARTBEAT_MS);
  } catch {
    // A transport's welcome object that throws when read says nothing we can use.
  }
  return 0;
}

/** What a v2 welcome said of the session, if it said it sanely; undefined from v1. */
function sessionOf(welcome: unknown): { known: boolean; handled: number } | undefined {
  try {
    const session = (welcome as { session?: unknown } | null | undefined)?.session as
      | { known?: unknown; handled?: unknown }
      | undefined;
    if (typeof session !== 'object' || session === null) return undefined;
    const { known, handled } = session;
    if (typeof known !== 'boolean' || !Number.isSafeInteger(handled) || (handled as number) < 0)
      return undefined;
    return { known, handled: handled as number };
  } catch {
    return undefined;
  }
}

/** A verdict that ends the link: the server forgot it (R6) or failed in passing (R12). */
export function isLinkFailure({ outcome }: Verdict): boolean {
  return outcome.status === 'stale' || outcome.status === 'retry';
}

export interface LinkActorInput {
  transport: Transport;
  /** The connection's session id, handed to the transport with every link (v2). */
  session: string;
}

const number = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;
const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : undefined;

/**
 * A transport's outcome as a plain object of checked fields: the machine never reads a
 * transport's own object (its getters may throw, its fields be of any type).
 */
function checkedOutcome(outcome: unknown): SendOutcome {
  const status = field(outcome, 'status');
  const error = field(outcome, 'error');
  const httpStatus = number(field(outcome, 'httpStatus'));
  switch (status) {
    case 'ok':
      return CONFIRMED;
    case 'stale':
      return { status, ...(httpStatus === undefined ? {} : { httpStatus }) };
    case 'rejected':
      return { status, error, ...(httpStatus === undefined ? {} : { httpStatus }) };
    case 'retry': {
      const retryAfterMs = number(field(outcome, 'retryAfterMs'));
      return {
        status,
        error,
        ...(httpStatus === undefined ? {} : { httpStatus }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    default:
      return {
        status: 'retry',
        error: invalidArgument(
          'what link.send() resolves with',
          "{ status: 'ok' | 'stale' | 'retry' | 'rejected' }",
          outcome,
        ),
      };
  }
}

/** Shared: a confirmation carries nothing else, and one object per message adds up. */
const CONFIRMED: SendOutcome = Object.freeze({ status: 'ok' });

/** Why a link closed, as a plain object of checked fields (see `checkedOutcome`). */
function checkedClose(info: unknown): LinkClose {
  const out: { -readonly [K in keyof LinkClose]: LinkClose[K] } = {};
  const code = number(field(info, 'code'));
  const httpStatus = number(field(info, 'httpStatus'));
  const reason = text(field(info, 'reason'));
  const retryAfterMs = number(field(info, 'retryAfterMs'));
  if (code !== undefined) out.code = code;
  if (httpStatus !== undefined) out.httpStatus = httpStatus;
  if (reason !== undefined) out.reason = reason;
  if (retryAfterMs !== undefined) out.retryAfterMs = retryAfterMs;
  const error = field(info, 'error');
  if (error !== undefined) out.error = error;
  if (field(info, 'fatal') === true) out.fatal = true;
  if (field(info, 'protocol') === true) out.protocol = true;
  if (field(info, 'auth') === true) out.auth = true;
  return out;
}

/**
 * One link as a child actor of the connection machine.
 *
 * This is where rule R5 is made true by construction. The machine stops this actor when
 * it lets go of the link, and XState drops whatever a stopped actor sends back, so a
 * replaced link's late open, frame, close, outcome or resume reply reaches nothing. Two
 * holes are closed here: `link.close()` runs while the actor is being stopped (so events
 * it fires are dropped by `stopped`), and a link that reports synchronously from inside
 * one of our calls has its events delivered after that call, in order, so they never
 * sit in the machine's mailbox behind the step that replaces the link.
 *
 * Verdicts are the hot path: every verdict that comes in within one tick reaches the
 * machine as one `link.verdicts` event (one macrostep for a window of 64 acks, not 64),
 * still in order with every other event of the link.
 */
export const linkActor = fromCallback<LinkCommand, LinkActorInput, LinkEvent>(
  ({ input, sendBack, receive }) => {
    let stopped = false;
    let calling = 0;
    let scheduled = false;
    // Events held back until the current call returns or the tick's verdicts are in.
    let pending: LinkEvent[] = [];

    const drain = () => {
      scheduled = false;
      const events = pending;
      pending = [];
      calling++;
      try {
        for (const event of events) {
          if (stopped) return;
          sendBack(event);
        }
      } finally {
        calling--;
      }
    };
    const hold = (event: LinkEvent) => {
      pending.push(event);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(drain);
      }
    };
    const deliver = (event: LinkEvent) => {
      if (stopped) return;
      if (calling > 0 || pending.length > 0) hold(event);
      else sendBack(event);
    };
    const deliverVerdict = (verdict: Verdict) => {
      if (stopped) return;
      const last = pending[pending.length - 1];
      if (last?.type === 'link.verdicts') (last.verdicts as Verdict[]).push(verdict);
      else hold({ type: 'link.verdicts', verdicts: [verdict] });
    };
    const call = <T>(fn: () => T): T => {
      calling++;
      try {
        return fn();
      } finally {
        calling--;
      }
    };

    let link: Link | undefined;
    try {
      link = call(() =>
        input.transport.connect(
          {
            open: (welcome) =>
              deliver({
                type: 'link.open',
                heartbeatMs: heartbeatOf(welcome),
                session: sessionOf(welcome),
              }),
            message: (frame) => deliver({ type: 'link.frame', frame }),
            alive: () => deliver({ type: 'link.alive' }),
            stream: (head) => deliver({ type: 'link.stream', head }),
            close: (info) => deliver({ type: 'link.closed', info: checkedClose(info) }),
          },
          { session: input.session },
        ),
      );
    } catch (error) {
      deliver({ type: 'link.closed', info: { error, reason: 'transport.connect() threw' } });
    }

    receive((command) => {
      const current = link;
      if (current === undefined) return;
      switch (command.type) {
        case 'link.send': {
          // The whole batch is one call: reports a send makes synchronously wait for it.
          call(() => {
            for (const message of command.messages) {
              const { id } = message;
              let sent: Promise<SendOutcome>;
              try {
                sent = current.send(message);
              } catch (error) {
                sent = Promise.resolve({ status: 'retry', error });
              }
              Promise.resolve(sent).then(
                (outcome) => deliverVerdict({ id, outcome: checkedOutcome(outcome) }),
                (error: unknown) => deliverVerdict({ id, outcome: { status: 'retry', error } }),
              );
            }
          });
          return;
        }
        case 'link.resume': {
          const { purpose } = command;
          const resumeChunk = (positions: readonly StreamPosition[]): Promise<void> => {
            try {
              return Promise.resolve(call(() => current.resume(positions)));
            } catch (error) {
              return Promise.reject(error);
            }
          };
          // At most MAX_STREAMS_PER_RESUME streams per request, one request after the other
          // (a server's frame or body limit must not refuse a client that watches many);
          // the resume is done when the last is answered, and fails with the first refusal.
          let resumed = resumeChunk(command.positions.slice(0, MAX_STREAMS_PER_RESUME));
          for (let at = MAX_STREAMS_PER_RESUME; at < command.positions.length; ) {
            const chunk = command.positions.slice(at, at + MAX_STREAMS_PER_RESUME);
            at += MAX_STREAMS_PER_RESUME;
            resumed = resumed.then(() => (stopped ? undefined : resumeChunk(chunk)));
          }
          resumed.then(
            () => {
              if (purpose === 'handshake') deliver({ type: 'link.resumed' });
            },
            (error: unknown) =>
              deliver(
                purpose === 'handshake'
                  ? { type: 'link.resume-failed', error }
                  : { type: 'link.watch-failed', error },
              ),
          );
          return;
        }
        case 'link.suspend':
          try {
            call(() => current.suspend?.(command.positions));
          } catch {
            // Fire-and-forget by contract: a notice that cannot be sent is not retried.
          }
          return;
        case 'link.unwatch':
          try {
            call(() => current.unwatch?.(command.streams));
          } catch {
            // Fire-and-forget like suspend: the client stops delivering the stream anyway.
          }
          return;
      }
    });

    return () => {
      stopped = true;
      pending = [];
      try {
        link?.close();
      } catch {
        // The link is being let go; a close that throws cannot change that.
      }
    };
  },
);

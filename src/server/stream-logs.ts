/**
 * The memory store's stream logs: every published event, numbered per stream and
 * serialised once, kept within a bounded replay window for the resumes that ask for it,
 * and each log's epoch (protocol v2), which changes whenever the log starts over. Who
 * receives an event, live or replayed, is the hub's business. `eventJson` is the check
 * every store's events pass first.
 */
import { describeError, invalidArgument } from '../../adapters/describe.js';
import { Epochs } from '../../adapters/session-store.js';
import type { StreamHead } from '../../adapters/transport.js';
import { ENTRY, isName, MAX_NAME_CHARS } from './checks.js';
import type { StoredEvent } from './store.js';

/** What `publish` returns: the event as published. */
export interface StreamEvent {
  stream: string;
  seq: number;
  data: unknown;
}

/**
 * One event as a frame carries it: `data` serialised to JSON once, when it was published.
 * Every frame that carries it, live or replayed, is built around this text.
 */
export interface LoggedEvent {
  readonly stream: string;
  readonly seq: number;
  readonly json: string;
}

/**
 * A published event checked and serialised, once, whatever store logs it: a stream name
 * out of bounds, or `data` that cannot be serialised (a BigInt, a cycle, nesting too
 * deep, nothing at all), throws a `TypeError`.
 */
export function eventJson(stream: string, data: unknown): string {
  if (!isName(stream))
    throw invalidArgument(
      'publish() stream',
      `a string of 1–${MAX_NAME_CHARS} characters`,
      stream,
      ENTRY,
    );
  return serialise(data);
}

/** `data` as JSON text, or the `TypeError` `publish()` throws. */
function serialise(data: unknown): string {
  let json: string | undefined;
  let cause: unknown;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    // BigInt and cycles throw a TypeError; nesting too deep, a RangeError.
    cause = error;
  }
  if (typeof json === 'string') return json;
  const wrong = invalidArgument('publish() data', 'serialisable to JSON', data, ENTRY);
  const why = cause === undefined ? '' : ` (${describeError(cause)})`;
  throw new TypeError(`${wrong.message}${why}`, { cause });
}

/** Every stream's log: its last `replayWindow` events, oldest first, at consecutive seqs. */
export class StreamLogs {
  private readonly logs = new Map<string, StoredEvent[]>();
  private readonly seqs = new Map<string, number>();
  private readonly epochs = new Epochs();

  constructor(private readonly replayWindow: number) {}

  /** The epoch of `stream`'s log and its last seq (0 when nothing was published). */
  head(stream: string): StreamHead {
    return { stream, epoch: this.epochs.of(stream), head: this.seqs.get(stream) ?? 0 };
  }

  /** `stream`'s log starts over: emptied, a new epoch, the next event at seq 1. */
  startOver(stream: string): void {
    this.logs.delete(stream);
    this.seqs.delete(stream);
    this.epochs.renew(stream);
  }

  /** Every log starts over (a restart that lost them). */
  clear(): void {
    this.logs.clear();
    this.seqs.clear();
    this.epochs.renewAll();
  }

  /** Log one event (`json`, checked by `eventJson`) at the stream's next seq. */
  append(stream: string, json: string): StoredEvent {
    const seq = (this.seqs.get(stream) ?? 0) + 1;
    this.seqs.set(stream, seq);
    const event: StoredEvent = { stream, seq, epoch: this.epochs.of(stream), json };
    const log = this.logs.get(stream) ?? [];
    this.logs.set(stream, log);
    log.push(event);
    if (log.length > this.replayWindow) log.splice(0, log.length - this.replayWindow);
    return event;
  }

  /** Up to `limit` events of `stream` still logged after `seq`, oldest first. */
  read(stream: string, seq: number, limit: number): readonly StoredEvent[] {
    const log = this.logs.get(stream);
    const first = log?.[0];
    if (log === undefined || first === undefined) return [];
    // A log holds consecutive seqs, so the first event after `seq` is found by index.
    const from = Math.max(0, seq - first.seq + 1);
    return log.slice(from, from + limit);
  }
}

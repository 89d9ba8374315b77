/**
 * The reference server's stream logs: every published event, numbered per stream and
 * serialised once, kept within a bounded replay window for the resumes that ask for it,
 * and each log's epoch (protocol v2), which changes whenever the log starts over. Who
 * receives an event, live or replayed, is the hub's business.
 */
import { describeError, invalidArgument } from '../../adapters/describe.js';
import { Epochs } from '../../adapters/session-store.js';
import type { StreamHead } from '../../adapters/transport.js';
import { ENTRY, isName, MAX_NAME_CHARS } from './checks.js';

/** What `publish` returns: the event as published. */
export interface StreamEvent {
  stream: string;
  seq: number;
  data: unknown;
}

/**
 * One event as the log keeps it: `data` serialised to JSON once, when it was published.
 * Every frame that carries it, live or replayed, is built around this text.
 */
export interface LoggedEvent {
  readonly stream: string;
  readonly seq: number;
  readonly json: string;
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
  private readonly logs = new Map<string, LoggedEvent[]>();
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

  /**
   * Log one event at the stream's next seq, its `data` serialised here, once. A stream
   * name out of bounds, or `data` that cannot be serialised (a BigInt, a cycle, nesting
   * too deep, nothing at all), throws a `TypeError` and nothing is logged.
   */
  append(stream: string, data: unknown): LoggedEvent {
    if (!isName(stream))
      throw invalidArgument(
        'publish() stream',
        `a string of 1–${MAX_NAME_CHARS} characters`,
        stream,
        ENTRY,
      );
    const json = serialise(data);
    const seq = (this.seqs.get(stream) ?? 0) + 1;
    this.seqs.set(stream, seq);
    const event: LoggedEvent = { stream, seq, json };
    const log = this.logs.get(stream) ?? [];
    this.logs.set(stream, log);
    log.push(event);
    if (log.length > this.replayWindow) log.splice(0, log.length - this.replayWindow);
    return event;
  }

  /** The events of `stream` still logged after `seq`, oldest first, read as they are taken. */
  *after(stream: string, seq: number): Generator<LoggedEvent, void, undefined> {
    const log = this.logs.get(stream);
    const first = log?.[0];
    if (log === undefined || first === undefined) return;
    // A log holds consecutive seqs, so the first event after `seq` is found by index.
    for (let i = Math.max(0, seq - first.seq + 1); i < log.length; i++) {
      yield log[i] as LoggedEvent;
    }
  }
}

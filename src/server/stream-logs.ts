/**
 * The reference server's stream logs: every published event, numbered per stream and
 * serialised once, kept within a bounded replay window for the resumes that ask for it.
 * Who receives an event, live or replayed, is the hub's business.
 */
import { describeError, invalidArgument } from '../../adapters/describe.js';
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

  constructor(private readonly replayWindow: number) {}

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

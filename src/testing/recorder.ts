/**
 * The recording proxy: wraps the user's transport, passes every call and callback through
 * unchanged, and checks the contract's duties (adapters/transport.ts) as they happen —
 * open at most once, nothing after close, frames only after open, resume waits for its
 * replay, send never rejects and answers a valid outcome, connect never throws — and the
 * two link rules the machine and the transport keep together: one link at a time (R5),
 * and on a link that opened with watched streams, no send before its resume (R2).
 */
import type {
  InboundFrame,
  Link,
  LinkEvents,
  LinkOptions,
  LinkWelcome,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
  Transport,
} from '../../adapters/transport.js';
import type { Findings } from './findings.js';

/** What the recorder asks of the case it records for. */
export interface RecorderContext {
  readonly findings: Findings;
  /** Streams the connection watches now (a link greeted then owes a resume first, R2). */
  watching(): number;
  /** The head of a stream's log as the kit knows it: how many events it published there. */
  head(stream: string): number;
}

/** What one link did, as the recorder saw it. */
export interface LinkRecord {
  readonly index: number;
  opens: number;
  welcome: LinkWelcome | undefined;
  /** The machine called `close()` (and it returned). */
  closedByClient: boolean;
  /** The link called `events.close`. */
  closedByServer: boolean;
  /** `connect()` threw: there is no link to close. */
  connectThrew: boolean;
  /** The handshake a link greeted with watched streams owes (R2). */
  handshake: 'none' | 'owed' | 'sent' | 'done';
  /** Per stream, the highest seq this link delivered. */
  readonly seqs: Map<string, number>;
  /** Per stream, the log's head when the handshake resume was called. */
  readonly resumedHeads: Map<string, number>;
}

const ended = (r: LinkRecord) => r.closedByClient || r.closedByServer || r.connectThrew;
const STATUSES: ReadonlySet<string> = new Set(['ok', 'stale', 'retry', 'rejected']);

/** Why an outcome is not one of the contract's shapes, or undefined if it is. */
export function outcomeProblem(outcome: unknown): string | undefined {
  if (typeof outcome !== 'object' || outcome === null) return `not an object: ${String(outcome)}`;
  const { status, httpStatus, retryAfterMs } = outcome as Record<string, unknown>;
  if (typeof status !== 'string' || !STATUSES.has(status))
    return `status ${JSON.stringify(status)} is not ok, stale, retry or rejected`;
  if (httpStatus !== undefined && !(Number.isInteger(httpStatus) && (httpStatus as number) >= 100))
    return `httpStatus ${String(httpStatus)} is not an HTTP status`;
  if (
    retryAfterMs !== undefined &&
    !(typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0)
  )
    return `retryAfterMs ${String(retryAfterMs)} is not a duration`;
  return undefined;
}

const list = (positions: readonly StreamPosition[]) =>
  positions.map((p) => `${p.stream}@${p.seq}`).join(', ');

export class Recorder {
  readonly links: LinkRecord[] = [];
  /** Sends whose promise has not settled yet, on any link. */
  unsettledSends = 0;
  readonly transport: Transport;

  constructor(
    inner: Transport,
    private readonly context: RecorderContext,
  ) {
    this.transport = {
      connect: (events, options) => this.connect(inner, events, options),
      ...(inner.maxInFlight === undefined ? {} : { maxInFlight: inner.maxInFlight }),
      ...(inner.delivery === undefined ? {} : { delivery: inner.delivery }),
    };
  }

  /** Links neither side has closed. */
  live(): number {
    return this.links.filter((r) => !ended(r)).length;
  }

  /** The newest link. */
  get current(): LinkRecord | undefined {
    return this.links[this.links.length - 1];
  }

  /** Some server greeted a link with a session: it speaks protocol v2 (epochs, resets). */
  get v2(): boolean {
    return this.links.some((r) => r.welcome?.session !== undefined);
  }

  private connect(inner: Transport, events: LinkEvents, options?: LinkOptions): Link {
    const { findings } = this.context;
    // R5: the machine lets go of a link before it asks for the next one.
    findings.check(this.live() === 0, 'R5 one link', () => {
      const open = this.links.filter((r) => !ended(r)).map((r) => r.index);
      return `link ${this.links.length + 1} was asked for while link ${open.join(', ')} was live`;
    });
    const record: LinkRecord = {
      index: this.links.length + 1,
      opens: 0,
      welcome: undefined,
      closedByClient: false,
      closedByServer: false,
      connectThrew: false,
      handshake: 'none',
      seqs: new Map(),
      resumedHeads: new Map(),
    };
    this.links.push(record);
    const name = `link ${record.index}`;
    // Every callback after the link's close event, or after close() returned, is one too many.
    const after = (callback: string) =>
      findings.check(!ended(record), 'nothing after close', () =>
        record.connectThrew
          ? `${name} called events.${callback}() after connect() threw`
          : record.closedByClient
            ? `${name} called events.${callback}() after close() returned`
            : `${name} called events.${callback}() after its own events.close()`,
      );
    const greeted = (callback: string) =>
      findings.check(
        record.opens > 0,
        'frames only after open',
        () => `${name} called events.${callback}() before events.open()`,
      );
    const proxied: LinkEvents = {
      open: (welcome) => {
        after('open');
        record.opens++;
        findings.check(
          record.opens === 1,
          'open at most once',
          () => `${name} called events.open() ${record.opens} times`,
        );
        record.welcome = welcome;
        if (record.opens === 1 && this.context.watching() > 0) record.handshake = 'owed';
        events.open(welcome);
      },
      message: (frame: InboundFrame) => {
        after('message');
        greeted('message');
        if (typeof frame?.stream === 'string' && typeof frame.seq === 'number')
          record.seqs.set(frame.stream, Math.max(record.seqs.get(frame.stream) ?? 0, frame.seq));
        events.message(frame);
      },
      alive: () => {
        after('alive');
        events.alive();
      },
      stream: (head) => {
        after('stream');
        greeted('stream');
        events.stream(head);
      },
      close: (info) => {
        after('close');
        record.closedByServer = true;
        events.close(info);
      },
    };
    let link: Link;
    try {
      link = inner.connect(proxied, options);
    } catch (error) {
      // Named once, here: what the machine does next is not blamed on a link that never was.
      record.connectThrew = true;
      findings.add('connect never throws', `${name}: connect() threw ${String(error)}`);
      throw error;
    }
    return {
      resume: (positions) => this.resume(record, link, positions),
      send: (message) => this.send(record, link, message),
      ...(link.suspend ? { suspend: (positions) => link.suspend?.(positions) } : {}),
      ...(link.unwatch ? { unwatch: (streams) => link.unwatch?.(streams) } : {}),
      close: () => {
        link.close();
        // After it returns: a close event from inside close() is the contract's edge.
        record.closedByClient = true;
      },
    };
  }

  private resume(record: LinkRecord, link: Link, positions: readonly StreamPosition[]) {
    // What the server's log held when the resume left: all of it must arrive first.
    const heads = positions.map((p) => ({ ...p, head: this.context.head(p.stream) }));
    if (record.handshake === 'owed') {
      record.handshake = 'sent';
      for (const { stream, head } of heads) record.resumedHeads.set(stream, head);
    }
    return Promise.resolve(link.resume(positions)).then(() => {
      for (const { stream, seq, head } of heads) {
        const got = record.seqs.get(stream) ?? seq;
        this.context.findings.check(
          ended(record) || head <= seq || got >= head,
          'resume waits for its replay',
          () =>
            `link ${record.index}: resume(${list(positions)}) resolved before its replay: the log of ${JSON.stringify(stream)} held up to seq ${head}, only up to ${Math.max(got, seq)} had arrived`,
        );
      }
      if (record.handshake === 'sent') record.handshake = 'done';
    });
  }

  private send(record: LinkRecord, link: Link, message: OutboundMessage): Promise<SendOutcome> {
    const { findings } = this.context;
    // R2: a link greeted with streams watched carries no send before its resume is done.
    findings.check(
      record.handshake === 'none' || record.handshake === 'done',
      'R2 resume before flush',
      () =>
        `link ${record.index} was asked to send ${message.id} before its resume ${record.handshake === 'owed' ? 'was sent' : 'resolved'}`,
    );
    this.unsettledSends++;
    const settled = () => this.unsettledSends--;
    let sent: Promise<SendOutcome>;
    try {
      sent = Promise.resolve(link.send(message));
    } catch (error) {
      settled();
      findings.add(
        'send never rejects',
        `link ${record.index}: send(${message.id}) threw ${String(error)}`,
      );
      throw error;
    }
    return sent.then(
      (outcome) => {
        settled();
        const problem = outcomeProblem(outcome);
        if (problem)
          findings.add(
            'valid outcome',
            `link ${record.index}: send(${message.id}) resolved with ${problem}`,
          );
        return outcome;
      },
      (error: unknown) => {
        settled();
        findings.add(
          'send never rejects',
          `link ${record.index}: send(${message.id}) rejected with ${String(error)}`,
        );
        throw error;
      },
    );
  }
}

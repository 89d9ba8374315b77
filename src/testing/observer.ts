/**
 * What the app and the server's app saw of one case, and the invariants we check on our
 * own connections (test/support/invariants.ts), restated over what a real wire lets the
 * kit see: the server's receipts through `received()`, the app's through the connection.
 *
 * - R1 order: the server's first receipts follow send order; a confirmed send is there.
 * - R7 once: the server's app gets each message once (a session the server forgot and
 *   the client resent under `onSessionLost: 'resend'` excepted, as R22 allows).
 * - R4 flush before open: `open` is entered with an empty outbox.
 * - R2 resume before flush: the events a handshake replays reach the app before flushing.
 * - R18/R23: a stream's events reach the app in order and once per epoch.
 * - R14: every send settles once; every rejection is reported `dropped`.
 */
import type { InboundFrame } from '../../adapters/transport.js';
import { outboxSize } from '../../machines/outbox.js';
import type { Connection } from '../connection.js';
import type { Findings } from './findings.js';
import type { Recorder } from './recorder.js';
import type { ReceivedMessage } from './types.js';

interface SendRecord {
  readonly index: number;
  settled: number;
  outcome: 'pending' | 'confirmed' | 'rejected';
}

export class Observer {
  readonly sends = new Map<string, SendRecord>();
  readonly dropped = new Set<string>();
  /** Error kinds the connection reported, in order. */
  readonly errors: string[] = [];
  /** Per stream, the last seq the app got (reset when the kit or a `reset` starts it over). */
  readonly lastSeq = new Map<string, number>();
  /** `received()` lengths (of this case's ids) when `session-lost` was reported. */
  private readonly lostAt: number[] = [];
  private receipts: string[] = [];

  constructor(
    private readonly conn: Connection,
    private readonly findings: Findings,
    private readonly recorder: Recorder,
    private readonly streams: ReadonlySet<string>,
  ) {
    conn.on('dropped', (error) => this.dropped.add(error.messageId));
    conn.on('error', (error) => {
      this.errors.push(error.kind);
      if (error.kind === 'session-lost') this.lostAt.push(this.receipts.length);
      // A reported reset is the one way a stream may start over (R23).
      if (error.kind === 'reset') this.lastSeq.clear();
    });
    conn.on('message', (_data, frame) => this.delivered(frame));
    conn.on('state', (to) => {
      if (to === 'flushing' || to === 'open') this.replayedBeforeFlush(to);
      if (to === 'open') {
        const left = outboxSize(conn.actor.getSnapshot().context.outbox);
        findings.check(
          left === 0,
          'R4 flush before open',
          () => `entered open with ${left} message(s) in the outbox`,
        );
      }
    });
  }

  /** Follow one send's promise. */
  track(id: string, sent: Promise<unknown>): void {
    const record: SendRecord = { index: this.sends.size, settled: 0, outcome: 'pending' };
    this.sends.set(id, record);
    sent.then(
      () => {
        record.settled++;
        record.outcome = 'confirmed';
      },
      () => {
        record.settled++;
        record.outcome = 'rejected';
      },
    );
  }

  pending(): string[] {
    return [...this.sends].filter(([, r]) => r.outcome === 'pending').map(([id]) => id);
  }

  private delivered(frame: InboundFrame | undefined): void {
    const stream = frame?.stream;
    const seq = frame?.seq;
    if (stream === undefined || !this.streams.has(stream) || typeof seq !== 'number') return;
    const last = this.lastSeq.get(stream) ?? 0;
    this.findings.check(
      seq > last,
      seq === last ? 'R23 no event twice within an epoch' : 'R18 positions never go back',
      () => `the app got seq ${seq} of ${JSON.stringify(stream)} after seq ${last}`,
    );
    this.lastSeq.set(stream, Math.max(seq, last));
  }

  /** R2: what the handshake replayed is the app's before a send leaves. */
  private replayedBeforeFlush(to: string): void {
    const link = this.recorder.current;
    if (link === undefined || link.handshake !== 'done') return;
    for (const [stream, head] of link.resumedHeads) {
      const got = this.lastSeq.get(stream) ?? 0;
      this.findings.check(
        got >= head || !this.conn.positions().some((p) => p.stream === stream),
        'R2 resume before flush',
        () =>
          `entered ${to} on link ${link.index} before the app had ${JSON.stringify(stream)} up to seq ${head} (it had ${got})`,
      );
    }
  }

  /** The server's receipts of this case's messages: R1 order, R7 once, R1 confirmed. */
  checkServer(all: readonly ReceivedMessage[], written: boolean): void {
    const receipts = all.map((m) => m.id).filter((id) => this.sends.has(id));
    this.receipts = receipts;
    const firsts: string[] = [];
    const seenAt = new Map<string, number>();
    for (const [i, id] of receipts.entries()) {
      const first = seenAt.get(id);
      if (first === undefined) {
        seenAt.set(id, i);
        firsts.push(id);
        continue;
      }
      this.findings.check(
        this.lostAt.some((at) => first < at && at <= i),
        'R7 once',
        () => `the server's app got ${id} twice (receipts ${first + 1} and ${i + 1})`,
      );
    }
    const index = (id: string) => this.sends.get(id)?.index ?? -1;
    const out = firsts.findIndex((id, i) => i > 0 && index(id) < index(firsts[i - 1] as string));
    this.findings.check(
      out < 0,
      'R1 order',
      () =>
        `the server's app got ${firsts[out]} after ${firsts[out - 1]}, which was sent later (receipts: ${firsts.join(', ')})`,
    );
    // A 'written' transport's ok only says the message left: it may still be on its way.
    if (written) return;
    const lastAtServer = Math.max(-1, ...firsts.map(index));
    for (const [id, record] of this.sends) {
      if (record.outcome !== 'confirmed' || seenAt.has(id)) continue;
      // A v2 server takes a session's serials in order: a message that overtook another
      // makes the other look like a duplicate, confirmed and never handed over.
      if (record.index < lastAtServer)
        this.findings.add(
          'R1 order',
          `${id} was confirmed but never reached the server's app, while a message sent after it did: it was overtaken`,
        );
      else
        this.findings.add('R1 confirmed', `${id} was confirmed, but the server's app never got it`);
    }
  }

  /** Once closed: every promise settled once, and every rejection reported (R14). */
  checkClosed(): void {
    this.findings.check(
      this.conn.state === 'closed',
      'R14 closed',
      () => `still ${this.conn.state}`,
    );
    for (const [id, record] of this.sends) {
      this.findings.check(
        record.settled === 1,
        'R14 every promise settled once',
        () => `${id} settled ${record.settled} times`,
      );
      this.findings.check(
        record.outcome !== 'rejected' || this.dropped.has(id),
        'dropped fires for every rejection',
        () => `${id} was rejected with no dropped event`,
      );
    }
  }
}

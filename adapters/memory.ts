/**
 * The in-memory transport and the server it talks to: a real transport for two ends in
 * one process (tests, a worker, a fake backend), and the reference for spec §5.
 *
 * The server keeps what a real one keeps (docs/protocol.md, v2): per-stream logs with a
 * replay window and an epoch each, sessions (a link opened with `{ session }` is greeted
 * with `{ known, handled }`, and each serial of a session reaches `onMessage` once while
 * the server remembers the session), a dedup window of message ids for v1 links, a
 * heartbeat. Every answer can also be steered — accept or refuse links, answer or fail or
 * hold resumes, answer sends with any outcome now or later, push frames, drop links, go
 * silent, forget sessions, start logs over, restart — which makes it the test bed for the
 * machine.
 *
 * Everything a link reports arrives on a later microtask, never inside the call that
 * caused it, as it would from a socket.
 */

import { MemoryIntake } from './memory-intake.js';
import {
  MemoryLink,
  type PendingResume,
  type PendingSend,
  type ServerLink,
  type Status,
  type TimerLike,
  type WireRecord,
} from './memory-link.js';
import { MemoryLogs } from './memory-logs.js';
import { CloseCode, isSessionId, WireLimit } from './protocol.js';
import type { SessionView } from './session-store.js';
import type {
  InboundFrame,
  Link,
  LinkClose,
  LinkEvents,
  LinkOptions,
  OutboundMessage,
  SendOutcome,
  StreamHead,
  StreamPosition,
  Transport,
} from './transport.js';

export type {
  InboundFrame,
  LinkClose,
  OutboundMessage,
  PendingResume,
  PendingSend,
  SendOutcome,
  ServerLink,
  SessionView,
  StreamHead,
  StreamPosition,
  TimerLike,
  Transport,
  WireRecord,
};

/** How the server answers. Change it at any time with `server.behave()`. */
export interface MemoryBehaviour {
  /** A new link: greet it, refuse it, or `hold` it for `link.accept()` / `link.refuse()`. */
  connect: 'accept' | 'refuse' | 'hold';
  /** A resume: replay and confirm, fail it, or `hold` it in `link.pendingResumes`. */
  resume: 'ok' | 'fail' | 'hold';
  /**
   * A send: answer with this outcome, `hold` it in `link.pendingSends`, or decide per
   * message. On a link with a session, `ok` and `rejected` are the app's verdict on a
   * serial the session has not had taken; a duplicate is answered with the first verdict.
   */
  send:
    | Status
    | 'hold'
    | ((message: OutboundMessage, link: ServerLink) => SendOutcome | Status | 'hold');
}

export interface MemoryServerOptions {
  /** @default { connect: 'accept', resume: 'ok', send: 'ok' } */
  behaviour?: Partial<MemoryBehaviour>;
  /**
   * Called once per message the server takes, in arrival order: once per serial of a
   * session while it remembers the session (`link.session` says which), once per id
   * within `dedupWindow` on a v1 link.
   */
  onMessage?: (message: OutboundMessage, link: ServerLink) => void;
  /** Ping every open link this often, in ms; 0 disables. @default 15000 */
  heartbeatMs?: number;
  /** Frames kept per stream for replay. @default 1000 */
  replayWindow?: number;
  /** Message ids remembered to discard duplicates on v1 links (no session). @default 10000 */
  dedupWindow?: number;
  /** How long a session is remembered after its last message, in ms. @default 86400000 (24 h) */
  sessionTtlMs?: number;
  /** Most sessions remembered; the least recently active is forgotten first. @default 1000000 */
  maxSessions?: number;
  /** The clock sessions expire by, in ms. @default Date.now */
  now?: () => number;
  /** Timers for the heartbeat. @default globalThis */
  clock?: TimerLike;
  /**
   * Keep `received`, `receivedBy()` and every link's `log` (for tests and debugging). Off
   * by default so a long-lived server does not grow without bound.
   * @default false
   */
  record?: boolean;
}

const DEFAULT_BEHAVIOUR: MemoryBehaviour = { connect: 'accept', resume: 'ok', send: 'ok' };

function toOutcome(outcome: SendOutcome | Status): SendOutcome {
  return typeof outcome === 'string' ? ({ status: outcome } as SendOutcome) : outcome;
}

/** The server end of in-memory links. */
export class MemoryServer {
  /** Every link the server has seen, oldest first (without `record`: the ones not closed). */
  readonly links: ServerLink[] = [];
  private linkCount = 0;
  private behaviour: MemoryBehaviour;
  private readonly logs: MemoryLogs;
  private readonly intake: MemoryIntake;
  private readonly options: { heartbeatMs: number; clock: TimerLike; record: boolean };

  constructor(options: MemoryServerOptions = {}) {
    this.behaviour = { ...DEFAULT_BEHAVIOUR, ...options.behaviour };
    this.options = {
      heartbeatMs: options.heartbeatMs ?? 15_000,
      clock: options.clock ?? globalThis,
      record: options.record ?? false,
    };
    this.logs = new MemoryLogs(options.replayWindow ?? 1000);
    this.intake = new MemoryIntake({
      dedupWindow: options.dedupWindow ?? 10_000,
      sessionTtlMs: options.sessionTtlMs ?? 86_400_000,
      maxSessions: options.maxSessions ?? 1_000_000,
      now: options.now,
      record: this.options.record,
      onMessage: options.onMessage,
    });
  }

  /**
   * Every message the server handed to its app, in arrival order (with `record: true`):
   * what the app saw, so it outlives `restart({ keepState: false })`.
   */
  get received(): readonly OutboundMessage[] {
    return this.intake.received;
  }

  /** The newest link that is not closed, if any. */
  get current(): ServerLink | undefined {
    const last = this.links[this.links.length - 1];
    return last && last.state !== 'closed' ? last : undefined;
  }

  /** Links that are not closed. More than one means a client leaked a link. */
  get live(): ServerLink[] {
    return this.links.filter((link) => link.state !== 'closed');
  }

  /** Change how the server answers from now on. */
  behave(behaviour: Partial<MemoryBehaviour>): void {
    this.behaviour = { ...this.behaviour, ...behaviour };
  }

  /** A transport whose links end at this server. */
  transport(options: { maxInFlight?: number } = {}): Transport {
    return {
      maxInFlight: options.maxInFlight ?? 64,
      connect: (events, link) => this.connect(events, link),
    };
  }

  /** Append to a stream's log and push the frame to every link that resumed the stream. */
  publish(stream: string, data: unknown): InboundFrame {
    const frame = this.logs.append(stream, data);
    for (const link of this.links) if (link.streams.has(stream)) link.push(frame);
    return frame;
  }

  /** The epoch and head of a stream's log, as a `stream` frame would carry them. */
  head(stream: string): StreamHead {
    return this.logs.head(stream);
  }

  /** What a `welcome` would say of this session now (without counting as activity). */
  session(session: string): SessionView {
    return this.intake.peek(session);
  }

  /** The messages of one session handed to the app, in order (with `record: true`). */
  receivedBy(session: string): readonly OutboundMessage[] {
    return this.intake.receivedBy(session);
  }

  /** Drop every live link. */
  dropAll(info?: LinkClose): void {
    for (const link of this.live) link.drop(info);
  }

  /** Drop every link and stop every timer. */
  close(): void {
    this.dropAll({ reason: 'the memory server closed' });
  }

  /**
   * Drop every live link, as a restart does. `keepState: false` also loses what an
   * in-memory server loses in a crash: every log starts over (a new epoch, seqs from 1),
   * every session and every message id is forgotten. What the app received stays.
   * @default { keepState: true }
   */
  restart({ keepState = true }: { keepState?: boolean } = {}): void {
    this.dropAll({ reason: 'the memory server restarted' });
    if (keepState) return;
    this.logs.clear();
    this.intake.forgetAll();
  }

  /**
   * Forget every session, as if each had expired; links stay open. With `idleForMs`, only
   * the sessions idle that long (by `now`: no message, no welcome), as a TTL of that
   * length would: a session a welcome just called known is not forgotten before its
   * client resends on the strength of it.
   */
  forgetSessions(options: { idleForMs?: number } = {}): void {
    this.intake.forgetSessions(options.idleForMs);
  }

  /**
   * One stream's log starts over: emptied, a new epoch, its next frame at seq 1. Every
   * link watching it is dropped (an epoch never changes under a live link).
   */
  startOver(stream: string): void {
    this.logs.startOver(stream);
    for (const link of this.live)
      if (link.streams.has(stream)) link.drop({ reason: `the log of ${stream} started over` });
  }

  private connect(events: LinkEvents, options?: LinkOptions): Link {
    const { heartbeatMs, clock } = this.options;
    const session = options?.session;
    const greet = () => {
      if (session === undefined) return undefined;
      const said = this.intake.greet(session);
      return heartbeatMs > 0 ? { heartbeatMs, session: said } : { session: said };
    };
    const link = new MemoryLink(++this.linkCount, events, heartbeatMs, clock, session, greet);
    // Without `record`, closed links are forgotten so a long-lived server does not grow.
    if (!this.options.record) {
      for (let i = this.links.length - 1; i >= 0; i--) {
        if (this.links[i]?.state === 'closed') this.links.splice(i, 1);
      }
    }
    this.links.push(link);
    if (session !== undefined && !isSessionId(session))
      link.refuse({
        code: CloseCode.policyViolation,
        reason: `session ids must be ${WireLimit.sessionMinChars}–${WireLimit.sessionMaxChars} characters of [A-Za-z0-9_-]`,
      });
    else if (this.behaviour.connect === 'accept') link.accept();
    else if (this.behaviour.connect === 'refuse') link.refuse();
    return {
      resume: (positions) => this.resume(link, positions),
      send: (message) => this.send(link, message),
      suspend: (positions) => {
        if (link.state === 'open')
          this.record(link, { kind: 'suspend', positions: [...positions] });
      },
      unwatch: (streams) => this.unwatch(link, streams),
      close: () => link.closed(),
    };
  }

  private unwatch(link: MemoryLink, streams: readonly string[]): void {
    if (link.state !== 'open') return;
    this.record(link, { kind: 'unwatch', streams: [...streams] });
    if (streams.length > WireLimit.streamsPerRequest) {
      link.drop({
        code: CloseCode.invalidPayload,
        reason: `an unwatch names at most ${WireLimit.streamsPerRequest} streams, got ${streams.length}`,
      });
      return;
    }
    for (const stream of streams) link.streams.delete(stream);
  }

  private resume(link: MemoryLink, positions: readonly StreamPosition[]): Promise<void> {
    const record: WireRecord = { kind: 'resume', positions: [...positions] };
    if (link.state !== 'open') return Promise.reject(new Error('memory link is not open'));
    this.record(link, record);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const pending: PendingResume = {
        positions: record.positions,
        ok: () => {
          if (settled || link.state !== 'open') return;
          settled = true;
          record.answer = 'ok';
          remove(link.pendingResumes, pending);
          const v2 = link.session !== undefined;
          for (const position of positions) {
            link.streams.add(position.stream);
            // v2: the log's epoch and head before its replay (spec §5).
            if (v2) link.pushStream(this.logs.head(position.stream));
            for (const frame of this.logs.after(position, v2)) link.push(frame);
          }
          // After the replay, so the client sees every replayed frame before the resume ends.
          queueMicrotask(resolve);
        },
        fail: (error = new Error('the memory server failed the resume')) => {
          if (settled) return;
          settled = true;
          record.answer = 'fail';
          remove(link.pendingResumes, pending);
          queueMicrotask(() => reject(error));
        },
      };
      if (link.isSilent) return void link.pendingResumes.push(pending);
      if (this.behaviour.resume === 'ok') pending.ok();
      else if (this.behaviour.resume === 'fail') pending.fail();
      else link.pendingResumes.push(pending);
    });
  }

  private send(link: MemoryLink, message: OutboundMessage): Promise<SendOutcome> {
    if (link.state !== 'open') return Promise.resolve({ status: 'stale' });
    this.record(link, { kind: 'send', message });
    if (link.failedWith !== undefined) return Promise.resolve({ status: link.failedWith });
    return new Promise<SendOutcome>((resolve) => {
      let settled = false;
      let handled = false;
      const pending: PendingSend = {
        message,
        answer: (answer) => {
          if (settled) return;
          settled = true;
          remove(link.pendingSends, pending);
          let outcome = toOutcome(answer);
          if (!handled && (outcome.status === 'ok' || outcome.status === 'rejected'))
            outcome = this.intake.take(message, link, outcome);
          if ((outcome.status === 'stale' || outcome.status === 'retry') && link.state === 'open') {
            link.failedWith = outcome.status;
          }
          resolve(outcome);
        },
        handleWithoutReply: () => {
          if (settled || handled) return;
          handled = true;
          this.intake.take(message, link, { status: 'ok' });
        },
      };
      const { send } = this.behaviour;
      const decided = link.isSilent
        ? 'hold'
        : typeof send === 'function'
          ? send(message, link)
          : send;
      if (decided === 'hold') link.pendingSends.push(pending);
      else pending.answer(decided);
    });
  }

  private record(link: MemoryLink, record: WireRecord): void {
    if (this.options.record) link.log.push(record);
  }
}

function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}

/** A server for in-memory links. */
export function createMemoryServer(options?: MemoryServerOptions): MemoryServer {
  return new MemoryServer(options);
}

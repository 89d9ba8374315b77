/**
 * How the memory server takes messages, once each, by the rule of the reference server
 * (docs/protocol.md, v2): on a link with a session, by serial — a serial above the
 * session's highest taken is handed to the app (or refused, as the steering says) and
 * taken; a duplicate is answered with its first verdict and not handed over again — and
 * on a v1 link by id, in a bounded window. The memory transport has no principals:
 * sessions are keyed by their id alone. `memory.ts` has the server.
 */
import type { ServerLink } from './memory-link.js';
import { Recent } from './recent.js';
import { SessionStore, type SessionView } from './session-store.js';
import type { OutboundMessage, SendOutcome } from './transport.js';

type Rejected = Extract<SendOutcome, { status: 'rejected' }>;

export interface MemoryIntakeOptions {
  dedupWindow: number;
  sessionTtlMs: number;
  maxSessions: number;
  now?: () => number;
  record: boolean;
  onMessage?: (message: OutboundMessage, link: ServerLink) => void;
}

export class MemoryIntake {
  /** What the app was handed, in order (with `record`): it outlives a restart. */
  readonly received: OutboundMessage[] = [];
  private readonly bySession = new Map<string, OutboundMessage[]>();
  private seen: Recent<true>;
  private readonly sessions: SessionStore<Rejected>;

  constructor(private readonly options: MemoryIntakeOptions) {
    this.seen = new Recent(options.dedupWindow);
    this.sessions = new SessionStore({
      ttlMs: options.sessionTtlMs,
      maxSessions: options.maxSessions,
      now: options.now,
    });
  }

  /** What a `welcome` says of a session; counts as activity, as the greeting does. */
  greet(session: string): SessionView {
    return this.sessions.view(session);
  }

  /** What a `welcome` would say of a session now, without counting as activity. */
  peek(session: string): SessionView {
    return this.sessions.peek(session);
  }

  /** The messages of one session handed to the app, in order (with `record`). */
  receivedBy(session: string): readonly OutboundMessage[] {
    return this.bySession.get(session) ?? [];
  }

  /**
   * A message the server decided on (`ok`, or `rejected` as the app's refusal): returns
   * the verdict the client gets. With a session and a serial, a serial the session has
   * had taken is a duplicate, answered with its first verdict; otherwise (a v1 link, or a
   * message without a serial) a repeated id is not handed over again (R7).
   */
  take(message: OutboundMessage, link: ServerLink, verdict: SendOutcome): SendOutcome {
    const { session } = link;
    const serial = (message as { serial?: unknown }).serial;
    if (session === undefined || serial === undefined) {
      if (verdict.status !== 'ok' || this.seen.has(message.id)) return verdict;
      this.seen.add(message.id, true);
      this.handOver(message, link);
      return verdict;
    }
    if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 1)
      return { status: 'rejected', error: new Error('a serial must be a safe integer ≥ 1') };
    const intake = this.sessions.check(session, serial);
    if (!intake.fresh) return intake.refusal?.error ?? { status: 'ok' };
    const refused = verdict.status === 'rejected' ? { error: verdict } : undefined;
    this.sessions.record(session, serial, refused);
    if (refused === undefined) this.handOver(message, link);
    return verdict;
  }

  /** Forget every session (idle for at least `idleMs`, when given), as if each had expired. */
  forgetSessions(idleMs?: number): void {
    if (idleMs === undefined) this.sessions.clear();
    else this.sessions.forgetIdle(idleMs);
  }

  /** Forget every session and every id, as a crash of an in-memory server does. */
  forgetAll(): void {
    this.sessions.clear();
    this.seen = new Recent(this.options.dedupWindow);
  }

  private handOver(message: OutboundMessage, link: ServerLink): void {
    if (this.options.record) {
      this.received.push(message);
      if (link.session !== undefined) {
        const list = this.bySession.get(link.session) ?? [];
        this.bySession.set(link.session, list);
        list.push(message);
      }
    }
    this.options.onMessage?.(message, link);
  }
}

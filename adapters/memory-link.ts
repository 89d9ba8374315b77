/**
 * The server's side of one in-memory link, and the records and pending requests a test
 * or an app reads from it. `memory.ts` has the server and the transport.
 */
import type {
  InboundFrame,
  LinkClose,
  LinkEvents,
  LinkWelcome,
  OutboundMessage,
  SendOutcome,
  StreamHead,
  StreamPosition,
} from './transport.js';

/** The subset of timers the server uses; XState's `SimulatedClock` is one. */
export interface TimerLike {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export type Status = SendOutcome['status'];

/** One thing that crossed a link from the client, in order. */
export type WireRecord =
  | { kind: 'resume'; positions: readonly StreamPosition[]; answer?: 'ok' | 'fail' }
  | { kind: 'send'; message: OutboundMessage }
  | { kind: 'suspend'; positions: readonly StreamPosition[] }
  | { kind: 'unwatch'; streams: readonly string[] };

export interface PendingSend {
  readonly message: OutboundMessage;
  /** Answer this send (an outcome or just its status). `ok` hands it to the server. */
  answer(outcome: SendOutcome | Status): void;
  /**
   * Hand it to the server but lose the reply: the send stays unconfirmed until the link
   * closes (then `stale`), as when a socket dies between the server's work and its ack.
   */
  handleWithoutReply(): void;
}

export interface PendingResume {
  readonly positions: readonly StreamPosition[];
  /** Replay the streams and confirm the resume. */
  ok(): void;
  /** Fail the resume. */
  fail(error?: unknown): void;
}

/** The server's side of one link. */
export interface ServerLink {
  /** 1 for the first link the server saw, then 2, 3, … */
  readonly id: number;
  /**
   * The session the client opened the link with (`connect(events, { session })`, protocol
   * v2); undefined for a v1 link, whose messages are deduplicated by id.
   */
  readonly session: string | undefined;
  readonly state: 'connecting' | 'open' | 'closed';
  /** What the client sent on this link, in order (with `record: true`). */
  readonly log: readonly WireRecord[];
  readonly pendingSends: readonly PendingSend[];
  readonly pendingResumes: readonly PendingResume[];
  /** Streams this link resumed, so `publish` reaches it. */
  readonly streams: ReadonlySet<string>;
  /** Greet a held link. */
  accept(): void;
  /** Refuse a held link (`fatal: true` for "never come back"). */
  refuse(info?: LinkClose): void;
  /** Close the link from the server's side. */
  drop(info?: LinkClose): void;
  /** Send one frame on this link. */
  push(frame: InboundFrame): void;
  /** Send one `stream` frame (protocol v2): a log's epoch and head. */
  pushStream(head: StreamHead): void;
  /** Send a sign of life. */
  ping(): void;
  /** Go silent: no frames, no pings, no answers; the link looks alive but is dead. */
  silence(): void;
}

/** The server's side of one in-memory link; `MemoryServer` makes them. */
export class MemoryLink implements ServerLink {
  state: ServerLink['state'] = 'connecting';
  readonly log: WireRecord[] = [];
  readonly pendingSends: PendingSend[] = [];
  readonly pendingResumes: PendingResume[] = [];
  readonly streams = new Set<string>();
  private silent = false;
  private heartbeat: unknown;
  /**
   * Once the server failed a send on this link (stale or retry), it handles nothing more
   * on it: a later message must not overtake the failed one (R1 with maxInFlight > 1).
   */
  failedWith: 'stale' | 'retry' | undefined;

  /**
   * `greet` says what the welcome carries when the link is accepted (the session as the
   * server then remembers it); undefined for a v1 link, which is greeted with nothing.
   */
  constructor(
    readonly id: number,
    private readonly events: LinkEvents,
    private readonly heartbeatMs: number,
    private readonly clock: TimerLike,
    readonly session: string | undefined = undefined,
    private readonly greet: () => LinkWelcome | undefined = () => undefined,
  ) {}

  /** Deliver to the client on a later microtask, unless the link is gone by then. */
  private emit(deliver: () => void): void {
    queueMicrotask(() => {
      if (this.state !== 'closed') deliver();
    });
  }

  accept(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    const welcome = this.greet();
    this.emit(() => (welcome === undefined ? this.events.open() : this.events.open(welcome)));
    this.startHeartbeat();
  }

  refuse(info: LinkClose = { reason: 'refused by the memory server' }): void {
    if (this.state === 'connecting') this.end(info);
  }

  drop(info: LinkClose = { reason: 'dropped by the memory server' }): void {
    this.end(info);
  }

  push(frame: InboundFrame): void {
    if (this.state === 'open' && !this.silent) this.emit(() => this.events.message(frame));
  }

  pushStream(head: StreamHead): void {
    if (this.state === 'open' && !this.silent) this.emit(() => this.events.stream(head));
  }

  ping(): void {
    if (this.state === 'open' && !this.silent) this.emit(() => this.events.alive());
  }

  silence(): void {
    this.silent = true;
    this.stopHeartbeat();
  }

  get isSilent(): boolean {
    return this.silent;
  }

  private startHeartbeat(): void {
    if (this.heartbeatMs <= 0) return;
    const beat = () => {
      this.ping();
      this.heartbeat = this.clock.setTimeout(beat, this.heartbeatMs);
    };
    this.heartbeat = this.clock.setTimeout(beat, this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) this.clock.clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Close from the server's side: tell the client, then settle what is pending. */
  private end(info: LinkClose): void {
    if (this.state === 'closed') return;
    const events = this.events;
    queueMicrotask(() => events.close(info));
    this.closed();
  }

  /** The link is gone, from either side: unanswered sends are stale, resumes fail. */
  closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopHeartbeat();
    for (const send of this.pendingSends.splice(0)) send.answer('stale');
    for (const resume of this.pendingResumes.splice(0)) resume.fail(new Error('the link closed'));
  }
}

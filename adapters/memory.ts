/**
 * The in-memory transport and the server it talks to: a real transport for two ends in
 * one process (tests, a worker, a fake backend), and the reference for spec §5.
 *
 * The server keeps what a real one keeps: per-stream logs with a replay window, a
 * dedup window of message ids (each id reaches `onMessage` once), a heartbeat. Every
 * answer can also be steered — accept or refuse links, answer or fail or hold resumes,
 * answer sends with any outcome now or later, push frames, drop links, go silent — which
 * makes it the test bed for the machine.
 *
 * Everything a link reports arrives on a later microtask, never inside the call that
 * caused it, as it would from a socket.
 */
import type {
  InboundFrame,
  Link,
  LinkClose,
  LinkEvents,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
  Transport,
} from './transport.js';

export type { InboundFrame, LinkClose, OutboundMessage, SendOutcome, StreamPosition, Transport };

/** The subset of timers the server uses; XState's `SimulatedClock` is one. */
export interface TimerLike {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

type Status = SendOutcome['status'];

/** How the server answers. Change it at any time with `server.behave()`. */
export interface MemoryBehaviour {
  /** A new link: greet it, refuse it, or `hold` it for `link.accept()` / `link.refuse()`. */
  connect: 'accept' | 'refuse' | 'hold';
  /** A resume: replay and confirm, fail it, or `hold` it in `link.pendingResumes`. */
  resume: 'ok' | 'fail' | 'hold';
  /** A send: answer with this outcome, `hold` it in `link.pendingSends`, or decide per message. */
  send:
    | Status
    | 'hold'
    | ((message: OutboundMessage, link: ServerLink) => SendOutcome | Status | 'hold');
}

export interface MemoryServerOptions {
  /** @default { connect: 'accept', resume: 'ok', send: 'ok' } */
  behaviour?: Partial<MemoryBehaviour>;
  /** Called once per message id the server accepts, in arrival order. */
  onMessage?: (message: OutboundMessage, link: ServerLink) => void;
  /** Ping every open link this often, in ms; 0 disables. @default 15000 */
  heartbeatMs?: number;
  /** Frames kept per stream for replay. @default 1000 */
  replayWindow?: number;
  /** Message ids remembered to discard duplicates. @default 10000 */
  dedupWindow?: number;
  /** Timers for the heartbeat. @default globalThis */
  clock?: TimerLike;
  /**
   * Keep `received` and every link's `log` (for tests and debugging). Off by default so
   * a long-lived server does not grow without bound.
   * @default false
   */
  record?: boolean;
}

/** One thing that crossed a link from the client, in order. */
export type WireRecord =
  | { kind: 'resume'; positions: readonly StreamPosition[]; answer?: 'ok' | 'fail' }
  | { kind: 'send'; message: OutboundMessage }
  | { kind: 'suspend'; positions: readonly StreamPosition[] };

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
  /** Send a sign of life. */
  ping(): void;
  /** Go silent: no frames, no pings, no answers; the link looks alive but is dead. */
  silence(): void;
}

const DEFAULT_BEHAVIOUR: MemoryBehaviour = { connect: 'accept', resume: 'ok', send: 'ok' };

function toOutcome(outcome: SendOutcome | Status): SendOutcome {
  return typeof outcome === 'string' ? ({ status: outcome } as SendOutcome) : outcome;
}

class MemoryLink implements ServerLink {
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

  constructor(
    readonly id: number,
    private readonly server: MemoryServer,
    private readonly events: LinkEvents,
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
    this.emit(() => this.events.open());
    this.server.startHeartbeat(this);
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

  ping(): void {
    if (this.state === 'open' && !this.silent) this.emit(() => this.events.alive());
  }

  silence(): void {
    this.silent = true;
    this.server.stopHeartbeat(this);
  }

  get isSilent(): boolean {
    return this.silent;
  }

  set heartbeatTimer(timer: unknown) {
    this.heartbeat = timer;
  }

  get heartbeatTimer(): unknown {
    return this.heartbeat;
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
    this.server.stopHeartbeat(this);
    for (const send of this.pendingSends.splice(0)) send.answer('stale');
    for (const resume of this.pendingResumes.splice(0)) resume.fail(new Error('the link closed'));
  }
}

/** The server end of in-memory links. */
export class MemoryServer {
  /** Every link the server has seen, oldest first. */
  readonly links: ServerLink[] = [];
  /** Every message the server accepted, once per id, in arrival order (with `record: true`). */
  readonly received: OutboundMessage[] = [];
  private behaviour: MemoryBehaviour;
  private readonly logs = new Map<string, InboundFrame[]>();
  private readonly seen = new Set<string>();
  private readonly options: Required<Omit<MemoryServerOptions, 'behaviour' | 'onMessage'>> &
    Pick<MemoryServerOptions, 'onMessage'>;

  constructor(options: MemoryServerOptions = {}) {
    this.behaviour = { ...DEFAULT_BEHAVIOUR, ...options.behaviour };
    this.options = {
      heartbeatMs: options.heartbeatMs ?? 15_000,
      replayWindow: options.replayWindow ?? 1000,
      dedupWindow: options.dedupWindow ?? 10_000,
      clock: options.clock ?? globalThis,
      onMessage: options.onMessage,
      record: options.record ?? false,
    };
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
    return { maxInFlight: options.maxInFlight ?? 64, connect: (events) => this.connect(events) };
  }

  /** Append to a stream's log and push the frame to every link that resumed the stream. */
  publish(stream: string, data: unknown): InboundFrame {
    const log = this.logs.get(stream) ?? [];
    this.logs.set(stream, log);
    const frame = { stream, seq: (log[log.length - 1]?.seq ?? 0) + 1, data };
    log.push(frame);
    if (log.length > this.options.replayWindow) log.shift();
    for (const link of this.links) if (link.streams.has(stream)) link.push(frame);
    return frame;
  }

  /** Drop every live link. */
  dropAll(info?: LinkClose): void {
    for (const link of this.live) link.drop(info);
  }

  /** Drop every link and stop every timer. */
  close(): void {
    this.dropAll({ reason: 'the memory server closed' });
  }

  /** @internal */
  startHeartbeat(link: MemoryLink): void {
    const { heartbeatMs, clock } = this.options;
    if (heartbeatMs <= 0) return;
    const beat = () => {
      link.ping();
      link.heartbeatTimer = clock.setTimeout(beat, heartbeatMs);
    };
    link.heartbeatTimer = clock.setTimeout(beat, heartbeatMs);
  }

  /** @internal */
  stopHeartbeat(link: MemoryLink): void {
    if (link.heartbeatTimer !== undefined) this.options.clock.clearTimeout(link.heartbeatTimer);
    link.heartbeatTimer = undefined;
  }

  private connect(events: LinkEvents): Link {
    const link = new MemoryLink(this.links.length + 1, this, events);
    this.links.push(link);
    if (this.behaviour.connect === 'accept') link.accept();
    else if (this.behaviour.connect === 'refuse') link.refuse();
    return {
      resume: (positions) => this.resume(link, positions),
      send: (message) => this.send(link, message),
      suspend: (positions) => {
        if (link.state === 'open')
          this.record(link, { kind: 'suspend', positions: [...positions] });
      },
      close: () => link.closed(),
    };
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
          for (const { stream, seq } of positions) {
            link.streams.add(stream);
            for (const frame of this.logs.get(stream) ?? [])
              if ((frame.seq ?? 0) > seq) link.push(frame);
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
          const outcome = toOutcome(answer);
          if (outcome.status === 'ok' && !handled) this.accept(message, link);
          if ((outcome.status === 'stale' || outcome.status === 'retry') && link.state === 'open') {
            link.failedWith = outcome.status;
          }
          resolve(outcome);
        },
        handleWithoutReply: () => {
          if (settled || handled) return;
          handled = true;
          this.accept(message, link);
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

  /** A message arrived: hand it to the app unless its id was seen (R7). */
  private accept(message: OutboundMessage, link: ServerLink): void {
    if (this.seen.has(message.id)) return;
    this.seen.add(message.id);
    if (this.seen.size > this.options.dedupWindow) {
      const oldest = this.seen.values().next().value as string;
      this.seen.delete(oldest);
    }
    if (this.options.record) this.received.push(message);
    this.options.onMessage?.(message, link);
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

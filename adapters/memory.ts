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

import {
  MemoryLink,
  type PendingResume,
  type PendingSend,
  type ServerLink,
  type Status,
  type TimerLike,
  type WireRecord,
} from './memory-link.js';
import { Recent } from './recent.js';
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

export type {
  InboundFrame,
  LinkClose,
  OutboundMessage,
  PendingResume,
  PendingSend,
  SendOutcome,
  ServerLink,
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

const DEFAULT_BEHAVIOUR: MemoryBehaviour = { connect: 'accept', resume: 'ok', send: 'ok' };

function toOutcome(outcome: SendOutcome | Status): SendOutcome {
  return typeof outcome === 'string' ? ({ status: outcome } as SendOutcome) : outcome;
}

/** The server end of in-memory links. */
export class MemoryServer {
  /** Every link the server has seen, oldest first (without `record`: the ones not closed). */
  readonly links: ServerLink[] = [];
  private linkCount = 0;
  /** Every message the server accepted, once per id, in arrival order (with `record: true`). */
  readonly received: OutboundMessage[] = [];
  private behaviour: MemoryBehaviour;
  private readonly logs = new Map<string, InboundFrame[]>();
  private readonly seen: Recent<true>;
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
    this.seen = new Recent(this.options.dedupWindow);
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

  private connect(events: LinkEvents): Link {
    const { heartbeatMs, clock } = this.options;
    const link = new MemoryLink(++this.linkCount, events, heartbeatMs, clock);
    // Without `record`, closed links are forgotten so a long-lived server does not grow.
    if (!this.options.record) {
      for (let i = this.links.length - 1; i >= 0; i--) {
        if (this.links[i]?.state === 'closed') this.links.splice(i, 1);
      }
    }
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
    this.seen.add(message.id, true);
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

/**
 * One case's world: the user's transport behind the recorder, a real connection over it
 * on real time, the observer, and the few moves every case is made of — send, publish,
 * wait until something holds (bounded), check the server, close and look for stragglers.
 */
import type { InspectionEvent } from 'xstate';
import type { Transport } from '../../adapters/transport.js';
import { type Connection, createConnection } from '../connection.js';
import type { Findings } from './findings.js';
import { Observer } from './observer.js';
import { Recorder } from './recorder.js';
import type { ConformanceOptions, ServerHooks } from './types.js';

/** What every case shares: the options, resolved, and the run's own names. */
export interface KitContext {
  readonly hooks: ServerHooks;
  readonly transport: () => Transport;
  readonly timeoutMs: number;
  readonly graceMs: number;
  readonly connection: ConformanceOptions['connection'];
  /** Unique per run: ids and stream names of one run never meet another's. */
  readonly runId: string;
  /** Every leaf state the real connections went through. */
  readonly reached: Set<string>;
}

/** The leaf state as a path, e.g. `reconnecting.waiting`. */
export function stateKey(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? [];
  return `${key}.${stateKey(child)}`;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long a link the client closed may stay open at the server (`liveLinks()`), at most. */
export const SERVER_LET_GO_MS = 2000;

/** Why R14 at the server goes unchecked without the hook. */
export const NO_LIVE_LINKS =
  'R14 at the server: the server hooks have no liveLinks(), so a link the transport left open at the server goes unseen';

/** The links the server holds open now (`liveLinks()`), or undefined without the hook. */
export async function serverLinks(kit: KitContext): Promise<number | undefined> {
  if (typeof kit.hooks.liveLinks !== 'function') return undefined;
  const count = await kit.hooks.liveLinks();
  if (!Number.isInteger(count) || count < 0)
    throw new TypeError(
      `holdfast/testing: server.liveLinks() must return a count of links, got ${JSON.stringify(count) ?? String(count)}`,
    );
  return count;
}

/**
 * R14 at the server: once the client closed its links, within `SERVER_LET_GO_MS` (or
 * `timeoutMs`, if shorter) the server holds no more than it did before (`before`, from
 * `serverLinks`). Without the hook, said unchecked.
 */
export async function checkServerLetGo(
  kit: KitContext,
  findings: Findings,
  before: number | undefined,
): Promise<void> {
  if (before === undefined) return findings.uncheckable(NO_LIVE_LINKS);
  const bound = Math.min(SERVER_LET_GO_MS, kit.timeoutMs);
  const deadline = Date.now() + bound;
  let now = (await serverLinks(kit)) ?? before;
  while (now > before && Date.now() < deadline) {
    await pause(10);
    now = (await serverLinks(kit)) ?? before;
  }
  findings.check(
    now <= before,
    'R14 no link after close',
    () =>
      `${bound} ms after close(), the server still holds ${now - before} link(s) more than before (liveLinks(): ${before} before, ${now} after)`,
  );
}

/** The kit's connection options: quick to retry, and no timer a loaded machine trips by itself. */
const KIT_CONNECTION = {
  backoff: () => 10,
  connectTimeoutMs: 3000,
  resumeTimeoutMs: 1000,
  ackTimeoutMs: 1000,
  heartbeatTimeoutMs: 0,
} as const;

export class Probe {
  readonly recorder: Recorder;
  readonly observer: Observer;
  readonly conn: Connection;
  readonly hooks: ServerHooks;
  /** Events the kit published, per stream: the head of each log as the kit knows it. */
  readonly heads = new Map<string, number>();
  private readonly streams = new Set<string>();
  private sent = 0;

  constructor(
    readonly kit: KitContext,
    readonly findings: Findings,
    readonly caseId: string,
    overrides: ConformanceOptions['connection'] = {},
    /** What `liveLinks()` said before this probe made its first link. */
    private readonly serverBefore: number | undefined = undefined,
  ) {
    this.hooks = kit.hooks;
    this.recorder = new Recorder(kit.transport(), {
      findings,
      watching: () => this.conn.positions().length,
      head: (stream) => this.heads.get(stream) ?? 0,
    });
    const inspect = kit.connection?.inspect;
    this.conn = createConnection({
      ...KIT_CONNECTION,
      ...kit.connection,
      ...overrides,
      transport: this.recorder.transport,
      inspect: (event: InspectionEvent) => {
        if (event.type === '@xstate.microstep' && 'value' in event.snapshot)
          kit.reached.add(stateKey((event.snapshot as { value: unknown }).value));
        if (typeof inspect === 'function') inspect(event);
        else inspect?.next?.(event);
      },
    });
    this.observer = new Observer(this.conn, findings, this.recorder, this.streams);
  }

  /** A stream of this case's own: the kit alone publishes there. */
  stream(n = 1): string {
    const name = `conformance-${this.kit.runId}-${this.caseId}-${n}`;
    this.streams.add(name);
    return name;
  }

  /** Send `count` messages now, without waiting; returns their ids. */
  send(count = 1, retry = true): string[] {
    return Array.from({ length: count }, () => {
      const id = `${this.kit.runId}-${this.caseId}-${++this.sent}`;
      this.observer.track(id, this.conn.send({ conformance: id }, { id, retry }));
      return id;
    });
  }

  /** Publish `count` events to `stream` through the user's server. */
  async publish(stream: string, count = 1): Promise<void> {
    for (let i = 0; i < count; i++) {
      const seq = (this.heads.get(stream) ?? 0) + 1;
      await this.hooks.publish(stream, { conformance: stream, seq });
      this.heads.set(stream, seq);
    }
  }

  /** The machine's leaf state, e.g. `connecting.resuming`. */
  get state(): string {
    return stateKey(this.conn.actor.getSnapshot().value);
  }

  /** Wait until `holds()`; after `timeoutMs`, stop the case with a `progress` violation. */
  async until(what: string, holds: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + this.kit.timeoutMs;
    while (!(await holds())) {
      if (Date.now() > deadline)
        this.findings.stop(
          'progress',
          `waited ${this.kit.timeoutMs} ms for ${what}; the connection is ${this.state}${this.pendingNote()}`,
        );
      await pause(3);
    }
  }

  private pendingNote(): string {
    const pending = this.observer.pending();
    return pending.length
      ? `, ${pending.length} send(s) unconfirmed (${pending.slice(0, 3).join(', ')})`
      : '';
  }

  /** Every watched stream has reached the app up to the head the kit published. */
  caughtUp(): boolean {
    return this.conn
      .positions()
      .every((p) => (this.observer.lastSeq.get(p.stream) ?? 0) >= (this.heads.get(p.stream) ?? 0));
  }

  /** Wait until open, every send settled and every watched stream caught up; then check. */
  async quiet(what = 'the connection to be open with nothing pending'): Promise<void> {
    await this.until(
      what,
      () => this.conn.state === 'open' && this.observer.pending().length === 0 && this.caughtUp(),
    );
    await this.checkServer();
  }

  /** The server's receipts of this case: order, once, confirmed ⇒ received. */
  async checkServer(): Promise<void> {
    const written = this.recorder.transport.delivery === 'written';
    this.observer.checkServer(await this.hooks.received(), written);
  }

  /** A log the server lost (a restart without state) starts over: its next event is seq 1. */
  forgetHeads(): void {
    this.heads.clear();
  }

  /**
   * Close the connection, watch the closed links for `graceMs`, then check what must hold
   * once closed: R14 on both sides, no callback after close (the recorder), every send
   * settled.
   */
  async finish(): Promise<void> {
    this.conn.close();
    await pause(this.kit.graceMs);
    const deadline = Date.now() + this.kit.timeoutMs;
    while (this.recorder.unsettledSends > 0 && Date.now() < deadline) await pause(5);
    this.findings.check(
      this.recorder.unsettledSends === 0,
      'every send settles',
      () =>
        `${this.recorder.unsettledSends} send(s) on closed links never settled within ${this.kit.timeoutMs} ms`,
    );
    this.findings.check(
      this.recorder.live() === 0,
      'R14 no link after close',
      () => `${this.recorder.live()} link(s) still live after close()`,
    );
    await checkServerLetGo(this.kit, this.findings, this.serverBefore);
    await this.checkServer();
    this.observer.checkClosed();
  }
}

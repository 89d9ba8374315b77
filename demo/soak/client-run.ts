/**
 * One soak client in a worker: a connection that sends numbered messages on a schedule
 * and watches `feed`, recording every outcome the library reports — how each send
 * settled, `session-lost` (and which messages it covered), `reset`, `gap` — and every feed
 * event with the epoch the library says it counts in.
 */
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import {
  type Connection,
  type ConnectionError,
  createConnection,
  fullJitterBackoff,
  isDeliveryError,
} from '../../src/index.js';
import { seededRandom } from '../options.js';
import {
  type ClientPlan,
  type ClientRecord,
  type FeedHead,
  type NodeAddress,
  Outcome,
  type SessionLost,
  type Transport,
} from './protocol.js';

export interface SoakClient {
  readonly plan: ClientPlan;
  readonly conn: Connection;
  /**
   * Send every message due by `now`: message n is due at `start` + (n − 1) × interval
   * (both ms since the epoch), so a worker that fell behind catches up at once.
   */
  sendDue(now: number, start: number): void;
  readonly allSent: boolean;
  readonly settled: boolean;
  /** The app has got the last event the node published. */
  caughtUp(head: FeedHead): boolean;
  /** Close the connection and hand back the record (pending sends stay `pending`). */
  finish(): ClientRecord;
}

export interface ClientSetup {
  plan: ClientPlan;
  node: NodeAddress;
  messages: number;
  intervalMs: number;
  seed: number;
  heartbeatMs: number;
  /** Send-to-confirm times in ms, by transport, shared by the worker's clients. */
  latencies: Record<Transport, number[]>;
}

/** How many messages a `session-lost` names: its `count`, or else its message's figure. */
function affected(error: ConnectionError): number {
  const count = (error as { count?: unknown }).count;
  if (typeof count === 'number') return count;
  return Number(/(\d+) message\(s\)/.exec(error.message)?.[1] ?? Number.NaN);
}

export function startSoakClient(setup: ClientSetup): SoakClient {
  const { plan, messages } = setup;
  const transport =
    plan.kind === 'websocket'
      ? webSocketTransport({ url: setup.node.wsUrl, WebSocket })
      : sseTransport({ url: setup.node.sseUrl, EventSource, requestTimeoutMs: 5000 });
  const conn = createConnection({
    transport,
    backoff: fullJitterBackoff({ baseMs: 20, capMs: 300, random: seededRandom(setup.seed) }),
    connectTimeoutMs: 1000,
    resumeTimeoutMs: 1000,
    heartbeatTimeoutMs: setup.heartbeatMs * 4,
    maxDeliveryAttempts: 1000,
    maxQueue: messages,
    onSessionLost: plan.policy,
  });
  const outcome = new Uint8Array(messages);
  const rejectedBy: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const sessionLost: SessionLost[] = [];
  const resets: number[] = [];
  const gaps: number[] = [];
  const feed = {
    seq: [] as number[],
    epoch: [] as number[],
    gen: [] as number[],
    k: [] as number[],
  };
  const epochs: string[] = [];
  const gens: string[] = [];
  const indexOf = (list: string[], value: string) => {
    const i = list.indexOf(value);
    return i >= 0 ? i : list.push(value) - 1;
  };
  /** Unsettled sends, in send order (a Set iterates in insertion order). */
  const pending = new Set<number>();
  let sent = 0;
  let reconnects = 0;

  conn.on('state', (to) => {
    if (to === 'reconnecting') reconnects++;
  });
  conn.on('error', (error) => {
    errors[error.kind] = (errors[error.kind] ?? 0) + 1;
    if (error.kind === 'reset') resets.push(feed.seq.length);
    else if (error.kind === 'gap') gaps.push(feed.seq.length);
    else if (error.kind === 'session-lost') {
      // The messages on the wire before are the oldest unsettled ones (sent in order).
      const count = affected(error);
      sessionLost.push({ count, policy: plan.policy, covered: [...pending].slice(0, count) });
    }
  });
  conn.on('message', (data, frame) => {
    if (frame.stream !== 'feed') return;
    const { g, k } = data as { g: string; k: number };
    const epoch = conn.positions().find((p) => p.stream === 'feed')?.epoch ?? '';
    feed.seq.push(frame.seq ?? -1);
    feed.epoch.push(indexOf(epochs, epoch));
    feed.gen.push(indexOf(gens, g));
    feed.k.push(k);
  });
  conn.watch('feed');

  const sendOne = (n: number) => {
    const began = performance.now();
    pending.add(n);
    conn.send({ c: plan.index, n }).then(
      () => {
        pending.delete(n);
        outcome[n - 1] = Outcome.confirmed;
        setup.latencies[plan.kind].push(performance.now() - began);
      },
      (error: unknown) => {
        pending.delete(n);
        const sentBefore = isDeliveryError(error) && error.sent;
        outcome[n - 1] = sentBefore ? Outcome.rejectedSent : Outcome.rejectedUnsent;
        const reason = isDeliveryError(error) ? error.reason : 'other';
        rejectedBy[reason] = (rejectedBy[reason] ?? 0) + 1;
      },
    );
  };

  return {
    plan,
    conn,
    sendDue(now, start) {
      if (now < start) return;
      const due = Math.min(messages, Math.floor((now - start) / setup.intervalMs) + 1);
      while (sent < due) sendOne(++sent);
    },
    get allSent() {
      return sent >= messages;
    },
    get settled() {
      return sent >= messages && pending.size === 0;
    },
    caughtUp(head) {
      const last = feed.k.length - 1;
      return last >= 0 && gens[feed.gen[last] as number] === head.gen && feed.k[last] === head.head;
    },
    finish() {
      // Copied before close(), which rejects whatever is still pending as `closed`.
      const record: ClientRecord = {
        plan,
        sent,
        outcome: outcome.slice(),
        rejectedBy: { ...rejectedBy },
        errors: { ...errors },
        sessionLost,
        resets,
        gaps,
        reconnects,
        feedSeq: Int32Array.from(feed.seq),
        feedEpoch: Int32Array.from(feed.epoch),
        feedGen: Int32Array.from(feed.gen),
        feedK: Int32Array.from(feed.k),
        epochs,
        gens,
      };
      conn.close();
      return record;
    },
  };
}

/**
 * The client side, seen from the parent: which client goes where (plans), and the worker
 * processes that run them (`worker.ts`).
 */
import type { SoakOptions } from './args.js';
import { forkChild, killChild, nextMessage } from './children.js';
import { heartbeatMs, type ProcessFigures, trackStats } from './nodes.js';
import type { ClientPlan, FeedHead, FromWorker, NodeAddress } from './protocol.js';

export type WorkerResult = Extract<FromWorker, { type: 'result' }>;

/**
 * Client i: node i % nodes (pinned: without `--redis` the nodes share no store; with it,
 * every client has the one address of haproxy), WebSocket and SSE in turn on each
 * address, and in crash mode `onSessionLost` 'resend' and 'reject' in turn on each address
 * and transport, so every path is exercised.
 */
export function planClients(options: SoakOptions): ClientPlan[] {
  const addresses = options.redis ? 1 : options.nodes;
  return Array.from({ length: options.clients }, (_, index) => {
    const node = index % addresses;
    const round = Math.floor(index / addresses);
    const kind = round % 2 === 0 ? 'websocket' : 'sse';
    const policy = options.restartMode === 'crash' && Math.floor(round / 2) % 2 === 1;
    return {
      index,
      name: `${kind === 'websocket' ? 'ws' : 'sse'}-${index}`,
      kind,
      node,
      policy: policy ? 'reject' : 'resend',
    };
  });
}

/**
 * How long a worker waits, once every message is sent, for the last sends to settle and
 * the feed to catch up (what is still unsettled then counts as lost). With `--redis`
 * much longer: a session's messages are taken one at a time, three Redis round trips
 * each, so on a busy machine (each round trip waiting for two processes to be scheduled)
 * a session takes fewer than the 20 a second it is sent and a backlog builds; it drains
 * only after sending ends (20–40 s in the runs of docs/reliability.md).
 */
const finishWithinMs = (redis: boolean) => (redis ? 120_000 : 15_000);

/**
 * Client i's worker: i % W shifted by one every W clients, so each worker gets WebSocket
 * and SSE clients alike (client i's transport alternates with i).
 */
export const workerOf = (index: number, workers: number) =>
  (index + Math.floor(index / workers)) % workers;

export interface Workers {
  readonly figures: ProcessFigures[];
  /** Clients open when the workers said ready. */
  readonly open: number;
  go(at: number): Promise<void>;
  finish(heads: FeedHead[]): Promise<WorkerResult[]>;
  kill(): Promise<void>;
}

export async function startWorkers(
  options: SoakOptions,
  plans: ClientPlan[],
  nodes: NodeAddress[],
  perClient: number,
  intervalMs: number,
): Promise<Workers> {
  const children = Array.from({ length: options.workers }, () => forkChild('./worker.ts', []));
  const figures = children.map((child, i) => {
    const f: ProcessFigures = { name: `clients ${i}`, rssMb: 0, peakRssMb: 0, cpuSeconds: 0 };
    trackStats(child, f);
    return f;
  });
  const readies = children.map((child, i) => {
    const ready = nextMessage<FromWorker, number>(
      child,
      (m) => (m.type === 'ready' ? m.open : undefined),
      'the clients to open',
    );
    child.send({
      type: 'start',
      clients: plans.filter((p) => workerOf(p.index, options.workers) === i),
      nodes,
      perClient,
      intervalMs,
      totalClients: options.clients,
      seed: options.seed,
      heartbeatMs: heartbeatMs(options.redis),
      finishWithinMs: finishWithinMs(options.redis),
    });
    return ready;
  });
  const open = (await Promise.all(readies)).reduce((a, b) => a + b, 0);
  const runMs = perClient * intervalMs + 60_000;
  return {
    figures,
    open,
    async go(at) {
      const sent = children.map((child) =>
        nextMessage<FromWorker, true>(
          child,
          (m) => (m.type === 'sent-all' ? true : undefined),
          'every message to be sent',
          runMs,
        ),
      );
      for (const child of children) child.send({ type: 'go', at });
      await Promise.all(sent);
    },
    finish(heads) {
      return Promise.all(
        children.map((child) => {
          const result = nextMessage<FromWorker, WorkerResult>(
            child,
            (m) => (m.type === 'result' ? m : undefined),
            'the clients’ records',
            // The worker's own wait, and time to hand the records over.
            finishWithinMs(options.redis) + 30_000,
          );
          child.send({ type: 'finish', heads });
          return result;
        }),
      );
    },
    async kill() {
      await Promise.all(children.map(killChild));
    },
  };
}

/**
 * The client side, seen from the parent: which client goes where (plans), and the worker
 * processes that run them (`worker.ts`).
 */
import type { SoakOptions } from './args.js';
import { forkChild, killChild, nextMessage } from './children.js';
import { HEARTBEAT_MS, type ProcessFigures, trackStats } from './nodes.js';
import type { ClientPlan, FeedHead, FromWorker, NodeAddress } from './protocol.js';

export type WorkerResult = Extract<FromWorker, { type: 'result' }>;

/**
 * Client i: node i % nodes (pinned: the nodes share no store yet), WebSocket and SSE in
 * turn on each node, and in crash mode `onSessionLost` 'resend' and 'reject' in turn on
 * each node and transport, so every path is exercised.
 */
export function planClients(options: SoakOptions): ClientPlan[] {
  return Array.from({ length: options.clients }, (_, index) => {
    const node = index % options.nodes;
    const round = Math.floor(index / options.nodes);
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
      heartbeatMs: HEARTBEAT_MS,
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

/** One demo client: a connection that sends numbered messages and watches the feed. */
import {
  type Connection,
  type ConnectionOptions,
  createConnection,
  fullJitterBackoff,
  type Transport,
} from '../src/index.js';
import { createServer } from '../src/server/index.js';

export interface ClientRun {
  name: string;
  transport: 'websocket' | 'sse';
  conn: Connection;
  sent: number;
  dropped: number;
  reconnects: number;
  latencies: number[];
  /** Feed values in the order the app got them. */
  feed: number[];
  /** Resolves once every message was sent and settled. */
  finished: Promise<void>;
}

export function startClient(
  name: string,
  kind: 'websocket' | 'sse',
  transport: Transport,
  messages: number,
  random: () => number,
  log: (line: string) => void,
  intervalMs = 5,
  inspect?: ConnectionOptions['inspect'],
): ClientRun {
  const conn = createConnection({
    transport,
    ...(inspect ? { inspect } : {}),
    backoff: fullJitterBackoff({ baseMs: 20, capMs: 300, random }),
    connectTimeoutMs: 1000,
    resumeTimeoutMs: 1000,
    heartbeatTimeoutMs: 400,
    maxDeliveryAttempts: 1000,
    maxQueue: messages,
  });
  const run: ClientRun = {
    name,
    transport: kind,
    conn,
    sent: 0,
    dropped: 0,
    reconnects: 0,
    latencies: [],
    feed: [],
    finished: Promise.resolve(),
  };
  conn.on('state', (to, from) => {
    if (to === 'reconnecting') run.reconnects++;
    log(`${name.padEnd(6)} ${from} → ${to}`);
  });
  conn.on('error', (e) =>
    log(`${name.padEnd(6)} ${e.kind}: ${e.message.replace(/^holdfast: /, '')}`),
  );
  conn.on('message', (data) => run.feed.push(data as number));
  conn.watch('feed');

  run.finished = new Promise<void>((resolve) => {
    const settled: Promise<void>[] = [];
    const timer = setInterval(() => {
      if (run.sent >= messages) {
        clearInterval(timer);
        void Promise.all(settled).then(() => resolve());
        return;
      }
      const n = ++run.sent;
      const started = performance.now();
      settled.push(
        conn.send({ client: name, n }).then(
          () => {
            run.latencies.push(performance.now() - started);
          },
          () => {
            run.dropped++;
          },
        ),
      );
    }, intervalMs);
  });
  return run;
}

/** The reference server for the demo and the soak, recording each client's numbers in arrival order. */
export function recordingServer(heartbeatMs: number) {
  const arrivals = new Map<string, number[]>();
  const server = createServer({
    heartbeatMs,
    onMessage: ({ data }) => {
      const { client, n } = data as { client: string; n: number };
      const list = arrivals.get(client) ?? [];
      arrivals.set(client, list);
      list.push(n);
    },
  });
  return { server, arrivals };
}

/**
 * A client worker: a child process that runs its share of the soak's clients. It opens
 * them (`start`), says `ready`, sends on the shared schedule from `go`, says `sent-all`,
 * and on `finish` (with the last event each node published) waits until every send has
 * settled and every client has the feed's last event, then hands back the records.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type SoakClient, startSoakClient } from './client-run.js';
import type { FeedHead, FromWorker, ToWorker, Transport } from './protocol.js';
import { reportToParent } from './stats.js';

const send = (message: FromWorker) => process.send?.(message);
reportToParent(send);

let clients: SoakClient[] = [];
/** How long `finish` waits for the last sends to settle and the feed to catch up. */
let finishWithinMs = 15_000;
/** Client i's first message is due i / total of an interval after `go`: sends spread evenly. */
let offset = (_index: number) => 0;
const latencies: Record<Transport, number[]> = { websocket: [], sse: [] };
const lag = monitorEventLoopDelay({ resolution: 10 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition() && Date.now() < deadline) await sleep(20);
}

process.on('message', async (message: ToWorker) => {
  if (message.type === 'start') {
    const { intervalMs, totalClients } = message;
    finishWithinMs = message.finishWithinMs;
    offset = (index) => (index / totalClients) * intervalMs;
    clients = message.clients.map((plan) =>
      startSoakClient({
        plan,
        node: message.nodes[plan.node] as (typeof message.nodes)[number],
        messages: message.perClient,
        intervalMs: message.intervalMs,
        seed: message.seed * 100_003 + plan.index,
        heartbeatMs: message.heartbeatMs,
        latencies,
      }),
    );
    await until(() => clients.every((c) => c.conn.state === 'open'), 10_000);
    send({ type: 'ready', open: clients.filter((c) => c.conn.state === 'open').length });
  } else if (message.type === 'go') {
    lag.enable();
    const ticker = setInterval(() => {
      const now = Date.now();
      for (const c of clients) c.sendDue(now, message.at + offset(c.plan.index));
      if (clients.every((c) => c.allSent)) {
        clearInterval(ticker);
        send({ type: 'sent-all' });
      }
    }, 10);
  } else {
    lag.disable();
    const heads: FeedHead[] = message.heads;
    await until(
      () => clients.every((c) => c.settled && c.caughtUp(heads[c.plan.node] as FeedHead)),
      finishWithinMs,
    );
    send({
      type: 'result',
      clients: clients.map((c) => c.finish()),
      latencies: {
        websocket: Float32Array.from(latencies.websocket),
        sse: Float32Array.from(latencies.sse),
      },
      lagP99Ms: Math.round(lag.percentile(99) / 1e6),
    });
  }
});

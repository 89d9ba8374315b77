/**
 * Outbox benchmarks. Every number is a ratio against a baseline measured in the same
 * process, so the results say something on any machine:
 *
 * - queueing offline: cost per message with 40k queued vs 1k queued (1.0 = O(1) per
 *   message), next to a copy-on-write array queue measured the same way;
 * - flushing: cost per message of flushing 40k vs 1k through the memory transport;
 * - machine events per delivered message (send + verdict = 2 is the floor);
 * - heap per queued message.
 *
 * Run: npm run bench
 */
import { performance } from 'node:perf_hooks';
import type { InspectionEvent } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import { createConnection } from '../src/index.js';
import { settle } from '../test/support/settle.js';

const gc = (globalThis as { gc?: () => void }).gc;

function best(runs: number, fn: () => number): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) min = Math.min(min, fn());
  return min;
}

/** ms per message to queue `n` messages on a connection that has no link. */
function queueOffline(n: number): number {
  const server = createMemoryServer({ heartbeatMs: 0, behaviour: { connect: 'hold' } });
  const conn = createConnection({ transport: server.transport(), maxQueue: n });
  const start = performance.now();
  for (let i = 0; i < n; i++) void conn.send(i);
  const ms = performance.now() - start;
  conn.close();
  return ms / n;
}

/** The same work on the queue we avoided: a new array per message. */
function copyOnWriteQueue(n: number): number {
  let queue: readonly number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) queue = [...queue, i];
  const ms = performance.now() - start;
  if (queue.length !== n) throw new Error('lost messages');
  return ms / n;
}

/** ms per message to flush `n` queued messages once the link opens; also events per message. */
async function flush(n: number): Promise<{ perMessage: number; eventsPerMessage: number }> {
  const server = createMemoryServer({ heartbeatMs: 0, behaviour: { connect: 'hold' } });
  let events = 0;
  const conn = createConnection({
    transport: server.transport({ maxInFlight: 64 }),
    maxQueue: n,
    inspect: (event: InspectionEvent) => {
      if (event.type === '@xstate.event' && event.actorRef.sessionId === event.rootId) events++;
    },
  });
  const sends = Array.from({ length: n }, (_, i) => conn.send(i));
  await settle();
  events = 0;
  const start = performance.now();
  server.current?.accept();
  await Promise.all(sends);
  const ms = performance.now() - start;
  conn.close();
  return { perMessage: ms / n, eventsPerMessage: events / n };
}

function heapPerMessage(n: number): number {
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const server = createMemoryServer({ heartbeatMs: 0, behaviour: { connect: 'hold' } });
  const conn = createConnection({ transport: server.transport(), maxQueue: n });
  for (let i = 0; i < n; i++) void conn.send(i);
  gc?.();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  conn.close();
  return bytes;
}

async function main() {
  const small = 1_000;
  const large = 40_000;
  queueOffline(small); // warm up the JIT
  const queueSmall = best(5, () => queueOffline(small));
  const queueLarge = best(3, () => queueOffline(large));
  const cowSmall = best(5, () => copyOnWriteQueue(small));
  const cowLarge = best(1, () => copyOnWriteQueue(large));
  await flush(small);
  const flushSmall = await flush(small);
  const flushLarge = await flush(large);
  const heap = heapPerMessage(large);

  const rows = [
    ['queue offline, per message, 40k vs 1k queued', (queueLarge / queueSmall).toFixed(2)],
    ['copy-on-write array baseline, same ratio', (cowLarge / cowSmall).toFixed(2)],
    [
      'flush through memory transport, per message, 40k vs 1k',
      (flushLarge.perMessage / flushSmall.perMessage).toFixed(2),
    ],
    [
      'machine events per message while flushing (verdicts)',
      flushLarge.eventsPerMessage.toFixed(2),
    ],
    [`heap per queued message (bytes${gc ? '' : ', no --expose-gc: rough'})`, heap.toFixed(0)],
  ];
  const width = Math.max(...rows.map(([label]) => (label as string).length));
  for (const [label, value] of rows) console.log(`${(label as string).padEnd(width)}  ${value}`);
}

void main();

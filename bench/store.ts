/**
 * 9. What a durable outbox costs (durable.md §4): confirmed WebSocket throughput with
 * `memoryStore()` and with `fileStore()`, each as a ratio against the same connection
 * without a store, in the same run. The workload is figure 2's: N × 100 B sent at once
 * over one connection, a window of 64, timed from the first send to the last
 * confirmation. Every store is wrapped in a proxy that counts its writes (batches) and
 * the messages they put and remove.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { createConnection, memoryStore, type OutboxStore, outboxStore } from '../dist/index.js';
import { fileStore } from '../dist/node.js';
import { createServer } from '../dist/server.js';
import { webSocketTransport } from '../dist/websocket.js';
import { median, sendAll, untilOpen } from './figures.js';

/** What one store saw in one round. */
export interface StoreCounts {
  /** `write()` calls: batches. */
  writes: number;
  /** Messages put (saved), over every batch. */
  puts: number;
  /** Messages removed (settled), over every batch. */
  removes: number;
}

/** `store`, counting what goes through it; `released` resolves once `close()` finished. */
export function countingStore(store: OutboxStore) {
  const counts: StoreCounts = { writes: 0, puts: 0, removes: 0 };
  let closing: Promise<void> | undefined;
  let done = () => {};
  const released = new Promise<void>((resolve) => {
    done = resolve;
  });
  const proxy = outboxStore({
    open: () => store.open(),
    write(batch) {
      counts.writes++;
      counts.puts += batch.put?.length ?? 0;
      counts.removes += batch.remove?.length ?? 0;
      return store.write(batch);
    },
    close() {
      closing ??= Promise.resolve(store.close()).finally(done);
      return closing;
    },
  });
  return { store: proxy, counts, released };
}

type Variant = 'none' | 'memory' | 'file';

/** One round: ms from the first send to the last confirmation, and the store's counts. */
async function storeRun(url: string, messages: number, payload: string, store?: OutboxStore) {
  const counting = store === undefined ? undefined : countingStore(store);
  const conn = createConnection({
    transport: webSocketTransport({ url, WebSocket, maxInFlight: 64 }),
    maxQueue: messages,
    ...(counting ? { store: counting.store } : {}),
  });
  await untilOpen(conn);
  const started = performance.now();
  await sendAll(conn, messages, payload);
  const ms = performance.now() - started;
  conn.close();
  // The last removals are written after the last confirmation; the store is let go after.
  if (counting) await counting.released;
  return { ms, counts: counting?.counts };
}

/**
 * Confirmed throughput without a store, with `memoryStore()` and with `fileStore()` in a
 * fresh folder per round (all under one temporary folder, removed at the end): a warm-up
 * of each, then `rounds` rounds of the three in turn; the medians are compared.
 */
export async function storeThroughput(messages: number, rounds = 5) {
  const server = createServer({ heartbeatMs: 10_000, dedupWindow: 1 });
  const listening = await server.listen();
  const root = await mkdtemp(join(tmpdir(), 'holdfast-bench-'));
  const payload = 'x'.repeat(100);
  let folders = 0;
  const storeOf = (variant: Variant): OutboxStore | undefined =>
    variant === 'none'
      ? undefined
      : variant === 'memory'
        ? memoryStore()
        : fileStore({ path: join(root, `round-${++folders}`) });
  const variants: Variant[] = ['none', 'memory', 'file'];
  try {
    const warmUp = Math.max(1, Math.round(messages / 5));
    for (const variant of variants)
      await storeRun(listening.wsUrl, warmUp, payload, storeOf(variant));
    const times: Record<Variant, number[]> = { none: [], memory: [], file: [] };
    const counts: Record<Variant, StoreCounts> = {
      none: { writes: 0, puts: 0, removes: 0 },
      memory: { writes: 0, puts: 0, removes: 0 },
      file: { writes: 0, puts: 0, removes: 0 },
    };
    for (let round = 0; round < rounds; round++) {
      // Which variant goes first turns with each round.
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(round + i) % variants.length] as Variant;
        const run = await storeRun(listening.wsUrl, messages, payload, storeOf(variant));
        times[variant].push(run.ms);
        for (const key of ['writes', 'puts', 'removes'] as const)
          counts[variant][key] += run.counts?.[key] ?? 0;
      }
    }
    const perSec = (variant: Variant) => Math.round((messages / median(times[variant])) * 1000);
    const perMessage = (variant: Variant) => {
      const sent = messages * rounds;
      const { writes, puts, removes } = counts[variant];
      return { writes: writes / sent, puts: puts / sent, removes: removes / sent };
    };
    return {
      messages,
      rounds,
      noStorePerSec: perSec('none'),
      memoryPerSec: perSec('memory'),
      filePerSec: perSec('file'),
      memoryRatio: median(times.none) / median(times.memory),
      fileRatio: median(times.none) / median(times.file),
      memoryPerMessage: perMessage('memory'),
      filePerMessage: perMessage('file'),
    };
  } finally {
    await listening.close();
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * 10. The server on Redis (scale-out.md §3): what `redisStore` costs one server process,
 * and what fan-out through Redis costs across three, each against the memory store in the
 * same run. Both need Debian's `redis-server`; without it they are skipped, saying so.
 *
 * - `redisStoreThroughput`: figure 9's workload (N × 100 B sent at once over one
 *   holdfast connection, window 64) against a server in this process on `redisStore`, and
 *   against one on the default memory store, in alternating rounds.
 * - `redisFanOut`: one publish reaching W raw WebSocket watchers spread over three server
 *   processes sharing Redis, against the same W watchers on one process on its memory
 *   store; timed from the publish being asked for to the W-th delivery counted.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { WebSocket } from 'ws';
import { redisStore } from '../dist/redis.js';
import { createServer } from '../dist/server.js';
import { bundleChild } from '../tools/child-bundle.js';
import { killProcess, REDIS_SERVER, startRedis } from '../tools/cluster-parts.js';
import { holdfastRun, median, percentile } from './figures.js';

export { REDIS_SERVER };

/** Why the Redis figures cannot be measured with `server`, or undefined when they can. */
export function redisMissing(server = REDIS_SERVER): string | undefined {
  return existsSync(server)
    ? undefined
    : `skipped: ${server} not found; install Debian's redis-server package (apt-get install redis-server) to measure the Redis store and fan-out figures`;
}

/**
 * Median µs of a PING from this process, for context beside the Redis rate: one
 * session's messages are taken one at a time, each waiting on a claim then a commit
 * script, so the rate follows Redis's answer time, not the window.
 */
async function redisRoundTripUs(redisUrl: string, pings = 200): Promise<number> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const times: number[] = [];
    for (let i = 0; i < pings; i++) {
      const started = performance.now();
      await client.ping();
      times.push((performance.now() - started) * 1000);
    }
    return median(times);
  } finally {
    await client.close();
  }
}

/**
 * Confirmed throughput, one server on `redisStore` / one on the memory store, both in
 * this process: a warm-up of each (N/5), then `rounds` rounds of the two (which goes first
 * alternates); the medians are compared. The app counts what it is handed, and a round
 * that did not hand over exactly N, or any store error, fails the figure: a retried or
 * lost message would make the rate mean something else.
 */
export async function redisStoreThroughput(redisUrl: string, messages: number, rounds = 5) {
  const payload = 'x'.repeat(100);
  const errors: unknown[] = [];
  let handed = 0;
  const onMessage = () => {
    handed++;
  };
  const onError = (error: unknown) => errors.push(error);
  const store = redisStore({ url: redisUrl, prefix: 'bench', onError });
  const servers = {
    memory: createServer({ heartbeatMs: 10_000, dedupWindow: 1, onMessage, onError }),
    redis: createServer({ heartbeatMs: 10_000, dedupWindow: 1, onMessage, onError, store }),
  };
  const memory = await servers.memory.listen();
  const redis = await servers.redis.listen();
  const urls = { memory: memory.wsUrl, redis: redis.wsUrl };
  type Kind = keyof typeof urls;
  const run = async (kind: Kind, count: number) => {
    handed = 0;
    const ms = await holdfastRun(urls[kind], count, 64, payload);
    if (handed !== count || errors.length > 0)
      throw new Error(
        `${kind} store round: ${handed} of ${count} handed over, errors: ${errors.map(String).join('; ')}`,
      );
    return ms;
  };
  try {
    const warmUp = Math.max(1, Math.round(messages / 5));
    await run('memory', warmUp);
    await run('redis', warmUp);
    const times: Record<Kind, number[]> = { memory: [], redis: [] };
    for (let round = 0; round < rounds; round++) {
      const order: Kind[] = round % 2 === 0 ? ['memory', 'redis'] : ['redis', 'memory'];
      for (const kind of order) times[kind].push(await run(kind, messages));
    }
    const perSec = (kind: Kind) => Math.round((messages / median(times[kind])) * 1000);
    return {
      messages,
      rounds,
      redisRoundTripUs: await redisRoundTripUs(redisUrl),
      memoryPerSec: perSec('memory'),
      redisPerSec: perSec('redis'),
      ratio: median(times.memory) / median(times.redis),
    };
  } finally {
    await memory.close();
    await redis.close();
    await store.close();
  }
}

/** What a bench child tells the parent. */
type NodeReport =
  | { type: 'listening'; wsUrl: string }
  | { type: 'published'; seq: number }
  | { type: 'error'; error: string };

interface BenchNode {
  wsUrl: string;
  readonly process: ChildProcess;
  /** The seqs this node's publishes got, in order. */
  readonly published: number[];
  readonly errors: string[];
}

/**
 * Fork one bench node; it joins `nodes` at once, so a failure anywhere still kills it.
 * Resolves once it listens.
 */
async function startNode(script: string, args: string[], nodes: BenchNode[]): Promise<void> {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const node = { wsUrl: '', process: child, published: [] as number[], errors: [] as string[] };
  nodes.push(node);
  node.wsUrl = await new Promise<string>((resolve, reject) => {
    child.on('message', (report: NodeReport) => {
      if (report.type === 'listening') resolve(report.wsUrl);
      if (report.type === 'published') node.published.push(report.seq);
      if (report.type === 'error') node.errors.push(report.error);
    });
    child.once('exit', (code) => reject(new Error(`bench node exited (${code}) before listening`)));
  });
}

/**
 * `count` raw WebSocket watchers of `stream` (protocol v2, each its own session), dealt
 * round robin over `urls`, each live (its `resumed` read) before this resolves. Every
 * event is checked to be the next seq of that watcher, then counted through `delivered`:
 * a watcher that missed or repeated one fails the figure instead of skewing it.
 */
async function openWatchers(
  urls: readonly string[],
  count: number,
  stream: string,
  delivered: (seq: number) => void,
  state: { closing: boolean; problems: string[] },
  sockets: WebSocket[],
): Promise<void> {
  const open = (url: string) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${url}?v=2&session=${randomUUID()}`);
      // Kept at once, so a failure anywhere still closes it.
      sockets.push(ws);
      let last = 0;
      ws.on('error', reject);
      ws.on('close', (code) => {
        if (!state.closing) state.problems.push(`a watcher's link closed (${code})`);
      });
      ws.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { type: string; seq?: number; stream?: string };
        if (frame.type === 'welcome')
          ws.send(JSON.stringify({ type: 'resume', streams: [{ stream, seq: 0 }] }));
        else if (frame.type === 'resumed') resolve();
        else if (frame.type === 'event' && frame.stream === stream) {
          const seq = frame.seq ?? 0;
          if (seq !== last + 1) state.problems.push(`a watcher got seq ${seq} after ${last}`);
          last = seq;
          delivered(seq);
        }
      });
    });
  // In batches, so no server's accept backlog overflows into SYN retries (seconds each).
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) =>
      open(urls[(i + j) % urls.length] as string),
    );
    await Promise.all(batch);
  }
}

/**
 * Fan-out: `watchers` raw watchers on one process on its memory store (the baseline) and
 * the same number spread evenly over three processes on one Redis, all open at once. One
 * publish at a time, asked of a server process over IPC (round robin over the three) and
 * timed in this process from the ask to the last of the watchers' deliveries of that
 * seq; a warm-up of each, then `rounds` rounds of `perRound` publishes each (which goes
 * first alternates). The medians are compared: Redis / memory, so > 1 is slower.
 */
export async function redisFanOut(
  redisUrl: string,
  watchers: number,
  perRound: number,
  rounds = 5,
) {
  const folder = mkdtempSync(join(tmpdir(), 'holdfast-bench-fan-out-'));
  const script = join(folder, 'fan-out-node.mjs');
  const nodes: BenchNode[] = [];
  const sockets: WebSocket[] = [];
  const state = { closing: false, problems: [] as string[] };
  const stream = 'fan-out';
  const data = { pad: 'x'.repeat(88) }; // 100 bytes of JSON
  try {
    await bundleChild(new URL('./fan-out-node.ts', import.meta.url), script);
    await Promise.all([
      startNode(script, [], nodes),
      ...[1, 2, 3].map(() => startNode(script, [redisUrl, 'benchfan'], nodes)),
    ]);
    // Forked in that order: the first is the one on memory.
    const [single, ...cluster] = nodes as [BenchNode, ...BenchNode[]];

    // What is awaited now: a seq and how many deliveries of it are still to come.
    let waiting: { seq: number; left: number; at: number; done: () => void } | undefined;
    const delivered = (seq: number) => {
      if (waiting === undefined || seq !== waiting.seq) return;
      if (--waiting.left === 0) {
        waiting.at = performance.now();
        waiting.done();
      }
    };
    const variants = {
      memory: { publishers: [single], seq: 0, times: [] as number[] },
      redis: { publishers: cluster, seq: 0, times: [] as number[] },
    };
    type Kind = keyof typeof variants;
    // Two sets of watchers, one per variant, each counting only its own deliveries.
    let counting: Kind = 'memory';
    for (const kind of ['memory', 'redis'] as const)
      await openWatchers(
        variants[kind].publishers.map((n) => n.wsUrl),
        watchers,
        stream,
        (seq) => {
          if (counting === kind) delivered(seq);
        },
        state,
        sockets,
      );

    const publish = async (kind: Kind): Promise<number> => {
      const variant = variants[kind];
      const seq = ++variant.seq;
      const node = variant.publishers[seq % variant.publishers.length] as BenchNode;
      counting = kind;
      const entry = { seq, left: watchers, at: 0, done: () => {} };
      let timer: NodeJS.Timeout | undefined;
      const all = new Promise<void>((resolve, reject) => {
        entry.done = resolve;
        timer = setTimeout(() => {
          const reached = watchers - entry.left;
          reject(
            new Error(`${kind} fan-out: seq ${seq} reached ${reached} of ${watchers} in 10 s`),
          );
        }, 10_000);
      });
      waiting = entry;
      const started = performance.now();
      node.process.send({ type: 'publish', stream, data });
      try {
        await all;
      } finally {
        clearTimeout(timer);
        waiting = undefined;
      }
      if (state.problems.length > 0)
        throw new Error(`${kind} fan-out: ${state.problems.join('; ')}`);
      return entry.at - started;
    };
    const warmUp = Math.max(2, Math.round(perRound / 2));
    for (const kind of ['memory', 'redis'] as const)
      for (let i = 0; i < warmUp; i++) await publish(kind);
    for (let round = 0; round < rounds; round++) {
      const order: Kind[] = round % 2 === 0 ? ['memory', 'redis'] : ['redis', 'memory'];
      for (const kind of order)
        for (let i = 0; i < perRound; i++) variants[kind].times.push(await publish(kind));
    }
    // Every publish logged once, in order: the seqs the nodes got are 1..n between them.
    // A node reports its seq once its publish resolved, which may be after the deliveries.
    const reported = () => nodes.reduce((sum, n) => sum + n.published.length, 0);
    const until = performance.now() + 5_000;
    while (reported() < variants.memory.seq + variants.redis.seq && performance.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (const kind of ['memory', 'redis'] as const) {
      const seqs = variants[kind].publishers.flatMap((n) => n.published).sort((a, b) => a - b);
      const errors = variants[kind].publishers.flatMap((n) => n.errors);
      if (
        errors.length > 0 ||
        seqs.length !== variants[kind].seq ||
        seqs.some((s, i) => s !== i + 1)
      )
        throw new Error(
          `${kind} fan-out: publishes logged as ${seqs.join(',')}; errors: ${errors.join('; ')}`,
        );
    }
    const { memory, redis } = variants;
    return {
      watchers,
      processes: cluster.length,
      publishes: memory.times.length,
      memoryMedianMs: median(memory.times),
      memoryP99Ms: percentile(memory.times, 0.99),
      redisMedianMs: median(redis.times),
      redisP99Ms: percentile(redis.times, 0.99),
      ratio: median(redis.times) / median(memory.times),
    };
  } finally {
    state.closing = true;
    for (const ws of sockets) ws.terminate();
    await Promise.all(nodes.map((n) => killProcess(n.process)));
    rmSync(folder, { recursive: true, force: true });
  }
}

export type RedisFigures =
  | { readonly skipped: string }
  | {
      readonly throughput: Awaited<ReturnType<typeof redisStoreThroughput>>;
      readonly fanOut: Awaited<ReturnType<typeof redisFanOut>>;
    };

/**
 * Both figures on one fresh redis-server, or why they were skipped (printed too). `server`
 * is there so the smoke test can check the skip where redis-server is installed.
 */
export async function redisFigures(
  sizes: { messages: number; rounds: number; watchers: number; perRound: number },
  server = REDIS_SERVER,
): Promise<RedisFigures> {
  const missing = redisMissing(server);
  if (missing !== undefined) {
    console.log(`Redis figures ${missing}`);
    return { skipped: missing };
  }
  const redis = await startRedis(server);
  try {
    const throughput = await redisStoreThroughput(redis.url, sizes.messages, sizes.rounds);
    const fanOut = await redisFanOut(redis.url, sizes.watchers, sizes.perRound, sizes.rounds);
    return { throughput, fanOut };
  } finally {
    await redis.stop();
  }
}

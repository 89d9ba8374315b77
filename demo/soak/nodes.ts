/**
 * The server nodes, seen from the parent: each a child process (`server-process.ts`). On
 * its own memory a node writes its arrivals to its own file in the run's temp folder; on
 * Redis (`redis` given) its app writes them to Redis. A crash SIGKILLs the process and
 * starts a new one on the same port (appending to the same file).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { bundleChild } from '../../tools/child-bundle.js';
import { forkChild, killChild, nextMessage } from './children.js';
import type { FeedHead, FromServer, NodeAddress, ProcessStats, ToServer } from './protocol.js';

export const FEED_EVERY_MS = 100;

/**
 * The servers' heartbeat (clients time a link out after 4 of them). 100 ms on the nodes'
 * own memory. With `--redis`, 1 s: three nodes, haproxy, Redis and the clients share the
 * machine, event loops lag past 400 ms, and a 100 ms heartbeat then times out healthy
 * links by the thousand, whose reconnects add load until sends stall for good (a trial
 * run: 2,919 timeouts, 154,030 messages unsettled at the end). A killed node needs no
 * heartbeat to be noticed: the kernel closes its sockets, and haproxy the clients'.
 */
export const heartbeatMs = (redis: boolean) => (redis ? 1000 : 100);

export interface ProcessFigures {
  name: string;
  rssMb: number;
  peakRssMb: number;
  /** CPU time of this process (of all its instances, for a node restarted by crashes). */
  cpuSeconds: number;
}

export interface ServerNode {
  readonly index: number;
  readonly address: NodeAddress;
  /** Its arrivals file (unused on Redis). */
  readonly file: string;
  readonly figures: ProcessFigures;
  /** Generations this node went through (one more per crash). */
  readonly gens: string[];
  /** Its process runs (false between a crash's SIGKILL and the new process listening). */
  readonly alive: boolean;
  fault(name: Extract<ToServer, { type: 'fault' }>['name']): Promise<void>;
  /** SIGKILL, stay down `downMs`, then a new process on the same port. */
  crash(downMs?: number): Promise<void>;
  stopFeed(): Promise<FeedHead>;
  kill(): Promise<void>;
}

/** Where the nodes share their state, under which key prefix. */
export interface SharedStore {
  url: string;
  prefix: string;
}

/** How every node of a run starts. */
export interface NodeSetup {
  /** The bundled `server-process.ts` (`bundleServer`). */
  script: string;
  heartbeatMs: number;
  /** Absent: each node on its own memory. */
  redis?: SharedStore;
}

/** Bundle `server-process.ts` into one ESM file in `folder`; resolves with its path. */
export async function bundleServer(folder: string): Promise<string> {
  const outfile = join(folder, 'server-process.mjs');
  await bundleChild(new URL('./server-process.ts', import.meta.url), outfile);
  return outfile;
}

/**
 * Keep a process's latest and peak memory and its CPU time from its stats messages; the
 * CPU time of earlier instances (a node restarted by crashes) is added as `cpuBefore`.
 */
export function trackStats(child: ChildProcess, figures: ProcessFigures, cpuBefore = 0): void {
  child.on('message', (message: { type?: string }) => {
    if (message.type !== 'stats') return;
    const stats = message as ProcessStats;
    figures.rssMb = stats.rssMb;
    figures.peakRssMb = Math.max(figures.peakRssMb, stats.rssMb);
    figures.cpuSeconds = cpuBefore + stats.cpuSeconds;
  });
}

async function spawnNode(port: number, file: string, figures: ProcessFigures, setup: NodeSetup) {
  const { redis } = setup;
  const child = forkChild(
    setup.script,
    [
      String(port),
      file,
      String(setup.heartbeatMs),
      String(FEED_EVERY_MS),
      ...(redis === undefined ? [] : [redis.url, redis.prefix]),
    ],
    { plainNode: true },
  );
  trackStats(child, figures, figures.cpuSeconds);
  const listening = await nextMessage<FromServer, Extract<FromServer, { type: 'listening' }>>(
    child,
    (m) => (m.type === 'listening' ? m : undefined),
    'the server to listen',
  );
  return { child, listening };
}

/**
 * Start a node again on its port. While it was down an outgoing connection may have been
 * given that port as its own (both come from the ephemeral range) and the new process then
 * fails to listen: try again until it is free.
 */
async function respawn(port: number, file: string, figures: ProcessFigures, setup: NodeSetup) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnNode(port, file, figures, setup);
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export async function startNode(
  index: number,
  folder: string,
  setup: NodeSetup,
): Promise<ServerNode> {
  const file = join(folder, `arrivals-node-${index}.txt`);
  const figures: ProcessFigures = {
    name: `server ${index}`,
    rssMb: 0,
    peakRssMb: 0,
    cpuSeconds: 0,
  };
  let { child, listening } = await spawnNode(0, file, figures, setup);
  let alive = true;
  const gens = [listening.gen];
  const port = listening.port;
  const ask = <T>(message: ToServer, pick: (m: FromServer) => T | undefined, what: string) => {
    const answer = nextMessage(child, pick, what);
    child.send(message);
    return answer;
  };
  return {
    index,
    address: { wsUrl: listening.wsUrl, sseUrl: listening.sseUrl },
    file,
    figures,
    gens,
    get alive() {
      return alive;
    },
    async fault(name) {
      await ask({ type: 'fault', name }, (m) => (m.type === 'fault-done' ? true : undefined), name);
    },
    async crash(downMs = 0) {
      alive = false;
      await killChild(child);
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      ({ child, listening } = await respawn(port, file, figures, setup));
      gens.push(listening.gen);
      alive = true;
    },
    stopFeed: () =>
      ask(
        { type: 'stop-feed' },
        (m) => (m.type === 'feed-stopped' ? m.head : undefined),
        'the feed to stop',
      ),
    kill: () => killChild(child),
  };
}

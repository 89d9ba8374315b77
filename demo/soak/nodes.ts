/**
 * The server nodes, seen from the parent: each a child process (`server-process.ts`) that
 * writes its arrivals to its own file in the run's temp folder. A crash restart SIGKILLs
 * the process and starts a new one on the same port, appending to the same file.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { forkChild, killChild, nextMessage } from './children.js';
import type { FeedHead, FromServer, NodeAddress, ProcessStats, ToServer } from './protocol.js';

export const HEARTBEAT_MS = 100;
const FEED_EVERY_MS = 100;

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
  readonly file: string;
  readonly figures: ProcessFigures;
  /** Generations this node went through (one more per crash). */
  readonly gens: string[];
  fault(name: Extract<ToServer, { type: 'fault' }>['name']): Promise<void>;
  crash(): Promise<void>;
  stopFeed(): Promise<FeedHead>;
  kill(): Promise<void>;
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

async function spawnNode(port: number, file: string, figures: ProcessFigures) {
  const child = forkChild('./server-process.ts', [
    String(port),
    file,
    String(HEARTBEAT_MS),
    String(FEED_EVERY_MS),
  ]);
  trackStats(child, figures, figures.cpuSeconds);
  const listening = await nextMessage<FromServer, Extract<FromServer, { type: 'listening' }>>(
    child,
    (m) => (m.type === 'listening' ? m : undefined),
    'the server to listen',
  );
  return { child, listening };
}

export async function startNode(index: number, folder: string): Promise<ServerNode> {
  const file = join(folder, `arrivals-node-${index}.txt`);
  const figures: ProcessFigures = {
    name: `server ${index}`,
    rssMb: 0,
    peakRssMb: 0,
    cpuSeconds: 0,
  };
  let { child, listening } = await spawnNode(0, file, figures);
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
    async fault(name) {
      await ask({ type: 'fault', name }, (m) => (m.type === 'fault-done' ? true : undefined), name);
    },
    async crash() {
      await killChild(child);
      ({ child, listening } = await spawnNode(port, file, figures));
      gens.push(listening.gen);
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

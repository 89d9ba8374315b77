/**
 * The seeded chaos schedule: every `everyMs`, one fault on one node (both drawn from the
 * seed): drop every link, forget every connection id, fail the next 20 sends with 503, or
 * restart — `faults.restart()` keeping sessions and logs (`keep`), or a real crash: SIGKILL
 * and a new process on the same port, which loses both (`crash`). With `--redis` a crash
 * loses nothing (the state is in Redis) and the node stays down for `REDIS_DOWN_MS` first,
 * so haproxy's health checks find it down and route new links around it; meanwhile the
 * schedule goes on with the nodes still up.
 */
import type { SoakOptions } from './args.js';
import type { ServerNode } from './nodes.js';

type Fault =
  | 'drop every link'
  | 'forget every connection id'
  | 'fail the next 20 sends'
  | 'restart';
const FAULTS: readonly Fault[] = [
  'drop every link',
  'forget every connection id',
  'fail the next 20 sends',
  'restart',
];

export interface Chaos {
  /** Faults injected, by name. */
  readonly counts: Record<string, number>;
  /** Stop, once the faults under way (crashes and their restarts) are done. */
  stop(): Promise<void>;
}

/**
 * No fault in the last second of sending: every client then sends once more after the
 * last fault, which is how an SSE client learns of `forgetConnections` (its event stream
 * stays up and keeps getting heartbeats, but no events: see docs/reliability.md).
 */
const QUIET_END_MS = 1000;

/**
 * Longer than haproxy needs to mark a node down (`fall 2` checks, `inter 1s` apart, in
 * deploy/haproxy.cfg): links opened meanwhile go to the other nodes.
 */
export const REDIS_DOWN_MS = 3000;

/** Faults from now until `endAt` (ms since the epoch: when the last messages are due). */
export function startChaos(
  nodes: readonly ServerNode[],
  options: SoakOptions,
  random: () => number,
  log: (line: string) => void,
  endAt: number,
  everyMs = 2000,
): Chaos {
  const counts: Record<string, number> = {};
  const crashes = new Set<Promise<void>>();
  let stopped = false;
  let wake: (() => void) | undefined;
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const where = (node: ServerNode) => (nodes.length > 1 ? ` (node ${node.index})` : '');

  /** A crash on Redis: down for a while, back in the background while chaos goes on. */
  function crashInBackground(node: ServerNode): void {
    const began = Date.now();
    const crash: Promise<void> = node.crash(REDIS_DOWN_MS).then(() => {
      crashes.delete(crash);
      log(`chaos  node ${node.index} back after ${Date.now() - began} ms`);
    });
    crashes.add(crash);
  }

  async function inject(fault: Fault, node: ServerNode): Promise<void> {
    if (fault === 'drop every link') return node.fault('dropAll');
    if (fault === 'forget every connection id') return node.fault('forgetConnections');
    if (fault === 'fail the next 20 sends') return node.fault('failNextSends');
    if (options.restartMode === 'keep') return node.fault('restart');
    if (options.redis) return crashInBackground(node);
    return node.crash();
  }

  const started = Date.now();
  const running = (async () => {
    for (let round = 1; !stopped; round++) {
      const due = started + round * everyMs;
      if (due > endAt - QUIET_END_MS) return;
      const wait = due - Date.now();
      if (wait > 0)
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, wait);
        });
      if (stopped) return;
      const fault = pick(FAULTS);
      // Drawn from every node, so the seed alone decides the draws; a fault drawn for a node
      // that is down (a crash under way) is skipped.
      const node = pick(nodes);
      const name = fault === 'restart' && options.restartMode === 'crash' ? 'crash' : fault;
      if (!node.alive) {
        log(`chaos  (${name} skipped: node ${node.index} is down)`);
        continue;
      }
      counts[name] = (counts[name] ?? 0) + 1;
      const began = Date.now();
      await inject(fault, node);
      const took = Date.now() - began;
      log(`chaos  ${name}${where(node)}${took > 50 ? `, ${took} ms` : ''}`);
    }
  })();

  return {
    counts,
    async stop() {
      stopped = true;
      wake?.();
      await running;
      await Promise.all(crashes);
    },
  };
}

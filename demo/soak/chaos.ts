/**
 * The seeded chaos schedule: every `everyMs`, one fault on one node (both drawn from the
 * seed): drop every link, forget every connection id, fail the next 20 sends with 503, or
 * restart — `faults.restart()` keeping sessions and logs (`keep`), or a real crash: SIGKILL
 * and a new process on the same port, which loses both (`crash`).
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
  /** Stop, once the fault under way (a crash restart, say) is done. */
  stop(): Promise<void>;
}

/**
 * No fault in the last second of sending: every client then sends once more after the
 * last fault, which is how an SSE client learns of `forgetConnections` (its event stream
 * stays up and keeps getting heartbeats, but no events: see docs/reliability.md).
 */
const QUIET_END_MS = 1000;

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
  let stopped = false;
  let wake: (() => void) | undefined;
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;

  async function inject(fault: Fault, node: ServerNode): Promise<void> {
    if (fault === 'drop every link') return node.fault('dropAll');
    if (fault === 'forget every connection id') return node.fault('forgetConnections');
    if (fault === 'fail the next 20 sends') return node.fault('failNextSends');
    if (options.restartMode === 'keep') return node.fault('restart');
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
      const node = pick(nodes);
      const name = fault === 'restart' && options.restartMode === 'crash' ? 'crash' : fault;
      counts[name] = (counts[name] ?? 0) + 1;
      const began = Date.now();
      await inject(fault, node);
      const took = Date.now() - began;
      log(
        `chaos  ${name}${nodes.length > 1 ? ` (node ${node.index})` : ''}${took > 50 ? `, ${took} ms` : ''}`,
      );
    }
  })();

  return {
    counts,
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}

/** The soak's flags. */
import { HAPROXY_SERVERS, missingParts } from '../../tools/cluster-parts.js';

export interface SoakOptions {
  clients: number;
  seconds: number;
  seed: number;
  /** Client processes. */
  workers: number;
  /** Server processes; without a shared store, client i is pinned to node i % nodes. */
  nodes: number;
  /** `keep`: `faults.restart()` keeps sessions and logs; `crash`: SIGKILL and start again. */
  restartMode: 'keep' | 'crash';
  /**
   * Every node on `redisStore` (one redis-server the soak starts) behind haproxy, so a
   * reconnect may land on any node; restarts are then always crashes.
   */
  redis: boolean;
  json: boolean;
}

function fail(message: string): never {
  console.error(`soak: ${message}`);
  process.exit(2);
}

const FLAGS = new Set([
  '--clients',
  '--seconds',
  '--seed',
  '--workers',
  '--nodes',
  '--restart-mode',
  '--json',
  '--redis',
]);
/** Flags that take no value. */
const SWITCHES = new Set(['--json', '--redis']);

export function readSoakOptions(argv: readonly string[]): SoakOptions {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (!FLAGS.has(flag)) fail(`unknown flag ${flag}`);
    if (!SWITCHES.has(flag)) i++;
  }
  const value = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`);
    return v;
  };
  const integer = (name: string, fallback: number, min: number) => {
    const n = Number(value(name, String(fallback)));
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  const redis = argv.includes('--redis');
  // With Redis, a node's state outlives it: the restart worth testing is a real crash.
  const restartMode = value('restart-mode', redis ? 'crash' : 'keep');
  if (restartMode !== 'keep' && restartMode !== 'crash') {
    fail(`--restart-mode must be keep or crash, got ${restartMode}`);
  }
  if (redis && restartMode !== 'crash')
    fail('--redis restarts a node by SIGKILL (its state is in Redis): no --restart-mode keep');
  const seed = Number(value('seed', '1'));
  if (!Number.isInteger(seed)) fail('--seed must be an integer');
  const options: SoakOptions = {
    clients: integer('clients', 20, 1),
    seconds: integer('seconds', 10, 1),
    seed,
    workers: integer('workers', 2, 1),
    nodes: integer('nodes', 1, 1),
    restartMode,
    redis,
    json: argv.includes('--json'),
  };
  options.workers = Math.min(options.workers, options.clients);
  if (redis) {
    if (options.nodes > HAPROXY_SERVERS)
      fail(`--redis: deploy/haproxy.cfg fronts at most ${HAPROXY_SERVERS} nodes`);
    const missing = missingParts();
    if (missing.length > 0) fail(`--redis needs redis-server and haproxy: ${missing.join('; ')}`);
  }
  return options;
}

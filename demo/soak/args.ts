/** The soak's flags. */

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
]);

export function readSoakOptions(argv: readonly string[]): SoakOptions {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (!FLAGS.has(flag)) fail(`unknown flag ${flag}`);
    if (flag !== '--json') i++;
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
  const restartMode = value('restart-mode', 'keep');
  if (restartMode !== 'keep' && restartMode !== 'crash') {
    fail(`--restart-mode must be keep or crash, got ${restartMode}`);
  }
  const seed = Number(value('seed', '1'));
  if (!Number.isInteger(seed)) fail('--seed must be an integer');
  const options: SoakOptions = {
    clients: integer('clients', 20, 1),
    seconds: integer('seconds', 10, 1),
    seed,
    workers: integer('workers', 2, 1),
    nodes: integer('nodes', 1, 1),
    restartMode,
    json: argv.includes('--json'),
  };
  options.workers = Math.min(options.workers, options.clients);
  return options;
}

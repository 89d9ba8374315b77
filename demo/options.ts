/** The demo's flags and its seeded randomness. */

export interface DemoOptions {
  transport: 'ws' | 'sse' | 'both';
  messages: number;
  seed: number;
  chaos: 'off' | 'normal' | 'heavy';
  json: boolean;
  /**
   * Start a local Stately inspector server and stream the clients' machines to it; the
   * demo then stays up until Ctrl-C.
   */
  inspect: boolean;
  /** The inspector server's port (`--inspect-port`), so two runs or a test need not share 8080. */
  inspectPort: number;
  /**
   * Each client keeps its outbox in a `fileStore` (a temporary folder per client, removed
   * at the end), and the chaos also kills clients without `close()` and starts them again.
   */
  durable: boolean;
}

export const USAGE = `npm run demo -- [flags]

The reference server on 127.0.0.1, a WebSocket and an SSE client sending numbered
messages under a seeded chaos schedule; exits 1 if anything was lost, duplicated or
reordered.

  --transport ws|sse|both   which clients run (both)
  --messages N              messages per client (500)
  --seed S                  seeds the chaos and the backoff jitter (1)
  --chaos off|normal|heavy  a fault every 600 ms (normal) or 250 ms (heavy), or none
  --durable                 each client keeps its outbox in a fileStore (a temporary folder
                            per client, removed at the end); every second fault kills a
                            client still sending (no close()) and starts it again on its
                            folder, which restores what was saved
  --json                    stdout is only the JSON report; the timeline goes to stderr
  --inspect                 stream both machines to the Stately inspector, then stay up
                            until Ctrl-C
  --inspect-port N          the inspector's port (8080)
  --help                    this text`;

function fail(message: string): never {
  console.error(`demo: ${message}`);
  process.exit(2);
}

export function readOptions(argv: readonly string[]): DemoOptions {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const value = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`);
    return v;
  };
  const transport = value('transport', 'both');
  if (transport !== 'ws' && transport !== 'sse' && transport !== 'both') {
    fail(`--transport must be ws, sse or both, got ${transport}`);
  }
  const chaos = value('chaos', 'normal');
  if (chaos !== 'off' && chaos !== 'normal' && chaos !== 'heavy') {
    fail(`--chaos must be off, normal or heavy, got ${chaos}`);
  }
  const messages = Number(value('messages', '500'));
  if (!Number.isInteger(messages) || messages < 1) fail('--messages must be an integer ≥ 1');
  const seed = Number(value('seed', '1'));
  if (!Number.isInteger(seed)) fail('--seed must be an integer');
  const inspectPort = Number(value('inspect-port', '8080'));
  if (!Number.isInteger(inspectPort) || inspectPort < 1 || inspectPort > 65_535) {
    fail('--inspect-port must be a port number, 1 to 65535');
  }
  return {
    transport,
    chaos,
    messages,
    seed,
    json: argv.includes('--json'),
    inspect: argv.includes('--inspect'),
    inspectPort,
    durable: argv.includes('--durable'),
  };
}

/** mulberry32: a small seeded PRNG, so one seed replays the same chaos. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

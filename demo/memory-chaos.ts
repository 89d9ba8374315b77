/**
 * `npm run demo`: one client over the in-memory transport, sending numbered messages
 * while a seeded chaos schedule drops links, makes the server forget them (stale),
 * fails sends (retry), silences the link, refuses reconnects and suspends the client.
 * The server publishes to a stream the client watches. At the end: a table of what
 * arrived, and exit 1 if anything was lost, duplicated or reordered.
 *
 * Flags: --messages N (default 400), --seed S (default 1), --chaos off|normal|heavy,
 * --json (the last line is one JSON object).
 */
import { createMemoryServer } from '../adapters/memory.js';
import { createConnection, fullJitterBackoff } from '../src/index.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const messages = Number(flag('messages', '400'));
const seed = Number(flag('seed', '1'));
const chaos = flag('chaos', 'normal');
const json = process.argv.includes('--json');
if (!Number.isInteger(messages) || messages < 1)
  throw new TypeError('--messages must be an integer ≥ 1');
if (!['off', 'normal', 'heavy'].includes(chaos))
  throw new TypeError('--chaos must be off, normal or heavy');

/** mulberry32: a small seeded PRNG, so a seed replays the same chaos. */
function prng(s: number) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);
const start = performance.now();
const at = () => `+${((performance.now() - start) / 1000).toFixed(3)}s`;
const log = (line: string) => {
  if (!json) console.log(`${at().padStart(9)}  ${line}`);
};

const timers = new Set<ReturnType<typeof setInterval>>();
function every(ms: number, fn: () => void) {
  const timer = setInterval(fn, ms);
  timers.add(timer);
  return timer;
}
function stop(timer: ReturnType<typeof setInterval>) {
  clearInterval(timer);
  timers.delete(timer);
}

const handled: number[] = [];
const server = createMemoryServer({
  heartbeatMs: 100,
  onMessage: (message) => handled.push(message.data as number),
});
const conn = createConnection({
  transport: server.transport({ maxInFlight: 8 }),
  backoff: fullJitterBackoff({ baseMs: 10, capMs: 150, random }),
  connectTimeoutMs: 300,
  resumeTimeoutMs: 300,
  heartbeatTimeoutMs: 350,
  maxDeliveryAttempts: 50,
  maxQueue: messages,
});

let reconnects = 0;
conn.on('state', (to, from) => {
  if (to === 'reconnecting') reconnects++;
  log(`client  ${from} → ${to}`);
});
conn.on('error', (error) =>
  log(`client  error (${error.kind}): ${error.message.replace(/^holdfast: /, '')}`),
);
const feed: number[] = [];
conn.on('message', (data) => feed.push(data as number));
conn.watch('feed');

const faults: Array<[string, () => void]> = [
  ['drop the link', () => server.dropAll({ reason: 'chaos: dropped' })],
  [
    'forget the link (sends now get stale)',
    () => {
      const link = server.current;
      server.behave({ send: (_m, l) => (l === link ? 'stale' : 'ok') });
    },
  ],
  [
    'fail the next 3 sends with retry',
    () => {
      let left = 3;
      server.behave({
        send: () => (left-- > 0 ? { status: 'retry', error: new Error('500') } : 'ok'),
      });
    },
  ],
  ['go silent', () => server.current?.silence()],
  [
    'refuse the next 2 links',
    () => {
      let left = 2;
      server.behave({ connect: 'hold' });
      const refuse = every(5, () => {
        const link = server.current;
        if (link?.state !== 'connecting') return;
        if (left-- > 0) link.refuse();
        else link.accept();
        if (left < 0) {
          stop(refuse);
          server.behave({ connect: 'accept' });
        }
      });
    },
  ],
  [
    'suspend the client for 50 ms',
    () => {
      conn.suspend();
      setTimeout(() => conn.resume(), 50);
    },
  ],
];

const latencies: number[] = [];
let settled = 0;
let dropped = 0;
const sends: Promise<void>[] = [];
const pace = 5;
let allQueued: () => void = () => {};
const queued = new Promise<void>((resolve) => {
  allQueued = resolve;
});
const sender = every(pace, () => {
  for (let k = 0; k < 1 && sends.length < messages; k++) {
    const n = sends.length + 1;
    const t0 = performance.now();
    const sent = conn.send(n).then(
      () => {
        latencies.push(performance.now() - t0);
      },
      () => {
        dropped++;
      },
    );
    sends.push(sent.finally(() => settled++));
  }
  if (sends.length >= messages) {
    stop(sender);
    allQueued();
  }
});

let published = 0;
every(20, () => server.publish('feed', ++published));

if (chaos !== 'off') {
  every(chaos === 'heavy' ? 60 : 200, () => {
    const [name, fault] = faults[Math.floor(random() * faults.length)] as [string, () => void];
    log(`chaos   ${name}`);
    fault();
  });
}

async function finish() {
  await queued;
  await Promise.all(sends);
  for (const timer of [...timers]) stop(timer);
  server.behave({ send: 'ok', connect: 'accept' });
  // Let the watched stream catch up to everything published.
  const deadline = performance.now() + 5000;
  while (feed.length < published && performance.now() < deadline) {
    if (conn.state === 'suspended') conn.resume();
    await new Promise((r) => setTimeout(r, 20));
  }
  conn.close();
  server.close();

  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
  const outOfOrder = handled.filter((n, i) => i > 0 && n < (handled[i - 1] ?? 0)).length;
  const duplicates = handled.length - new Set(handled).size + (feed.length - new Set(feed).size);
  const feedOutOfOrder = feed.filter((n, i) => i > 0 && n !== (feed[i - 1] ?? 0) + 1).length;
  const lost = messages - dropped - new Set(handled).size + (published - new Set(feed).size);
  const row = {
    name: 'client-1',
    transport: 'memory',
    sent: messages,
    delivered: new Set(handled).size,
    dropped,
    duplicates,
    outOfOrder: outOfOrder + feedOutOfOrder,
    lost,
    reconnects,
    feed: `${feed.length}/${published}`,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
  };
  if (json) {
    console.log(JSON.stringify({ clients: [row] }));
  } else {
    console.log('');
    console.table([row]);
    console.log(
      lost || duplicates || row.outOfOrder
        ? 'FAIL: something was lost, duplicated or reordered'
        : 'OK: nothing lost, duplicated or reordered',
    );
  }
  process.exitCode = lost || duplicates || row.outOfOrder ? 1 : 0;
}

void finish();

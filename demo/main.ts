/**
 * `npm run demo` — the main job. The reference server on 127.0.0.1, one client over
 * WebSocket and one over SSE, each sending numbered messages while a seeded chaos
 * schedule drops links, forgets connection ids, fails sends with 500, silences the
 * heartbeat, restarts the server and suspends a client. The server also publishes to a
 * stream both clients watch. Prints a timeline, then a table per client; exits 1 if
 * anything was lost, duplicated or reordered.
 *
 * Flags: --transport ws|sse|both  --messages N  --seed S  --chaos off|normal|heavy  --json
 *        --inspect (stream both machines to the Stately inspector on http://localhost:8080)
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { sseTransport } from '../adapters/sse.js';
import { webSocketTransport } from '../adapters/websocket.js';
import { type ClientRun, recordingServer, startClient } from './client.js';
import { readOptions, seededRandom } from './options.js';

const options = readOptions(process.argv.slice(2));
const random = seededRandom(options.seed);
const started = performance.now();
const log = (line: string) => {
  const at = `+${((performance.now() - started) / 1000).toFixed(3)}s`;
  console.log(`${at.padStart(9)}  ${line}`);
};

const { server, arrivals } = recordingServer(100);
const listening = await server.listen();
log(`server listening on ${listening.url} (seed ${options.seed}, chaos ${options.chaos})`);

// --inspect: a local bridge to the Stately inspector UI; open the printed URL to watch.
let inspect: ReturnType<typeof createWebSocketInspector>['inspect'] | undefined;
let stopInspector = () => {};
if (options.inspect) {
  const port = 8080;
  const bridge = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
  inspect = inspector.inspect;
  stopInspector = () => {
    inspector.stop();
    bridge.stop();
  };
  log(`inspector: open http://localhost:${port} in a browser to watch the machines live`);
}

const clients: ClientRun[] = [];
if (options.transport !== 'sse') {
  const transport = webSocketTransport({ url: listening.wsUrl, WebSocket });
  clients.push(
    startClient('ws-1', 'websocket', transport, options.messages, random, log, 5, inspect),
  );
}
if (options.transport !== 'ws') {
  const transport = sseTransport({ url: listening.sseUrl, EventSource });
  clients.push(startClient('sse-1', 'sse', transport, options.messages, random, log, 5, inspect));
}

let published = 0;
const publisher = setInterval(() => server.publish('feed', ++published), 25);

const later = new Set<ReturnType<typeof setTimeout>>();
const after = (ms: number, fn: () => void) => {
  const timer = setTimeout(() => {
    later.delete(timer);
    fn();
  }, ms);
  later.add(timer);
};
const faults: Array<[string, () => void | Promise<void>]> = [
  ['drop every link', () => server.faults.dropAll()],
  ['forget every connection id (SSE sends get 404)', () => server.faults.forgetConnections()],
  ['fail the next 3 sends with 500', () => server.faults.failNextSends(3, 500)],
  [
    'go silent for 600 ms',
    () => {
      server.faults.silence(true);
      after(600, () => server.faults.silence(false));
    },
  ],
  ['restart the server (logs kept)', () => server.faults.restart()],
  [
    'suspend a client for 150 ms',
    () => {
      const client = clients[Math.floor(random() * clients.length)];
      client?.conn.suspend();
      after(150, () => client?.conn.resume());
    },
  ],
];
let chaos: ReturnType<typeof setInterval> | undefined;
if (options.chaos !== 'off') {
  chaos = setInterval(
    () => {
      const [name, fault] = faults[Math.floor(random() * faults.length)] as (typeof faults)[number];
      log(`chaos  ${name}`);
      void fault();
    },
    options.chaos === 'heavy' ? 250 : 600,
  );
}

await Promise.all(clients.map((c) => c.finished));
clearInterval(chaos);
clearInterval(publisher);
for (const timer of later) clearTimeout(timer);
server.faults.silence(false);
// Let every client catch up with the feed before counting.
const deadline = performance.now() + 10_000;
while (clients.some((c) => new Set(c.feed).size < published) && performance.now() < deadline) {
  for (const c of clients) if (c.conn.state === 'suspended') c.conn.resume();
  await new Promise((resolve) => setTimeout(resolve, 20));
}
for (const c of clients) c.conn.close();
await listening.close();
stopInspector();

function outOfOrder(values: number[], strict: boolean): number {
  let count = 0;
  for (let i = 1; i < values.length; i++) {
    const prev = values[i - 1] as number;
    const now = values[i] as number;
    if (strict ? now !== prev + 1 : now < prev) count++;
  }
  return count;
}
const percentile = (sorted: number[], p: number) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);

const rows = clients.map((c) => {
  const got = arrivals.get(c.name) ?? [];
  const unique = new Set(got).size;
  const feedUnique = new Set(c.feed).size;
  const latencies = [...c.latencies].sort((a, b) => a - b);
  return {
    name: c.name,
    transport: c.transport,
    sent: c.sent,
    delivered: unique,
    duplicates: got.length - unique + (c.feed.length - feedUnique),
    outOfOrder: outOfOrder(got, false) + outOfOrder(c.feed, true),
    lost: c.sent - c.dropped - unique + (published - feedUnique),
    dropped: c.dropped,
    reconnects: c.reconnects,
    feed: feedUnique,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
});
const bad = rows.some((r) => r.lost > 0 || r.duplicates > 0 || r.outOfOrder > 0);

console.log('');
console.table(rows);
console.log(
  `feed: ${published} events published; sends counted at the server, the feed at each client. ${
    bad
      ? 'FAIL: something was lost, duplicated or reordered.'
      : 'Nothing lost, duplicated or reordered.'
  }`,
);
if (options.json) console.log(JSON.stringify({ clients: rows }));
process.exit(bad ? 1 : 0);

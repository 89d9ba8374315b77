/**
 * `npm run soak -- --clients 200 --seconds 60`: the reference server on loopback, half the
 * clients on WebSocket and half on SSE, each sending 20 messages a second, while the
 * server drops links, forgets connection ids, answers 5xx and restarts (keeping its
 * logs). Prints totals and process memory; exits 1 on any loss, duplicate or reordering.
 */
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { sseTransport } from '../adapters/sse.js';
import { webSocketTransport } from '../adapters/websocket.js';
import { type ClientRun, recordingServer, startClient } from './client.js';
import { seededRandom } from './options.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) {
    console.error(`soak: --${name} must be an integer ≥ 1`);
    process.exit(2);
  }
  return value;
};
const clientCount = arg('clients', 20);
const seconds = arg('seconds', 10);
const intervalMs = 50;
const perClient = Math.floor((seconds * 1000) / intervalMs);
const random = seededRandom(arg('seed', 1));
const mb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);
const startRss = mb();
const started = performance.now();
const log = (line: string) =>
  console.log(`+${((performance.now() - started) / 1000).toFixed(1)}s  ${line}`);

const { server, arrivals } = recordingServer(100);
const listening = await server.listen();
log(
  `soak: ${clientCount} clients for ${seconds} s, ${1000 / intervalMs} messages/s each, rss ${startRss} MB`,
);

const quiet = () => {};
const clients: ClientRun[] = [];
for (let i = 0; i < clientCount; i++) {
  const ws = i % 2 === 0;
  const transport = ws
    ? webSocketTransport({ url: listening.wsUrl, WebSocket })
    : sseTransport({ url: listening.sseUrl, EventSource, requestTimeoutMs: 5000 });
  clients.push(
    startClient(
      `${ws ? 'ws' : 'sse'}-${i}`,
      ws ? 'websocket' : 'sse',
      transport,
      perClient,
      random,
      quiet,
      intervalMs,
    ),
  );
}

const faults: Array<[string, () => unknown]> = [
  ['drop every link', () => server.faults.dropAll()],
  ['forget every connection id', () => server.faults.forgetConnections()],
  ['fail the next 20 sends with 503', () => server.faults.failNextSends(20, 503)],
  ['restart the server', () => server.faults.restart()],
];
const chaos = setInterval(() => {
  const [name, fault] = faults[Math.floor(random() * faults.length)] as (typeof faults)[number];
  log(`chaos  ${name}  (rss ${mb()} MB)`);
  void fault();
}, 2000);

await Promise.all(clients.map((c) => c.finished));
clearInterval(chaos);
for (const c of clients) c.conn.close();
await listening.close();

let sent = 0;
let confirmed = 0;
let lost = 0;
let duplicated = 0;
let outOfOrder = 0;
let reconnects = 0;
let dropped = 0;
for (const c of clients) {
  const got = arrivals.get(c.name) ?? [];
  const unique = new Set(got).size;
  sent += c.sent;
  confirmed += c.latencies.length;
  dropped += c.dropped;
  lost += c.sent - c.dropped - unique;
  duplicated += got.length - unique;
  outOfOrder += got.filter((n, i) => i > 0 && n < (got[i - 1] as number)).length;
  reconnects += c.reconnects;
}
const totals = {
  clients: clientCount,
  seconds,
  sent,
  confirmed,
  dropped,
  lost,
  duplicated,
  outOfOrder,
  reconnects,
  rssStartMb: startRss,
  rssEndMb: mb(),
};
console.table([totals]);
console.log(JSON.stringify(totals));
process.exit(lost || duplicated || outOfOrder ? 1 : 0);

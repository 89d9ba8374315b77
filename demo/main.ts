/**
 * `npm run demo` — the main job. The reference server on 127.0.0.1, one client over
 * WebSocket and one over SSE, each sending numbered messages while a seeded chaos
 * schedule drops links, forgets connection ids, fails sends with 500, silences the
 * heartbeat, restarts the server and suspends a client. The server also publishes to a
 * stream both clients watch. Prints a timeline, then a table per client; exits 1 if
 * anything was lost, duplicated or reordered.
 *
 * Flags (`--help` lists them): --transport ws|sse|both  --messages N  --seed S
 *        --chaos off|normal|heavy
 *        --durable (each client's outbox in a fileStore of its own; the chaos also kills
 *        clients without close() and starts them again on their folder: demo/durable.ts)
 *        --json (stdout carries only the JSON report; the timeline and table go to stderr)
 *        --inspect (stream both machines to the Stately inspector on http://localhost:8080,
 *        then stay up until Ctrl-C)  --inspect-port N (8080)
 */
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { sseTransport } from '../adapters/sse.js';
import { webSocketTransport } from '../adapters/websocket.js';
import { startChaos } from './chaos.js';
import { type ClientRun, recordingServer, startClient } from './client.js';
import { storeFolders } from './durable.js';
import { startInspector, untilInterrupted } from './inspector.js';
import { readOptions, seededRandom } from './options.js';
import { anythingWrong, clientRows, printReport } from './report.js';
import { createTimeline } from './timeline.js';

const options = readOptions(process.argv.slice(2));
const random = seededRandom(options.seed);
// With --json, stdout is for a program: the JSON report and nothing else.
const timeline = createTimeline(options.json ? process.stderr : process.stdout);
const { log } = timeline;

const { server, arrivals } = recordingServer(100);
const listening = await server.listen();
log(`server listening on ${listening.url} (seed ${options.seed}, chaos ${options.chaos})`);

const inspector = options.inspect ? startInspector(options.inspectPort) : undefined;
if (inspector) log(`inspector: open ${inspector.url} in a browser to watch the machines live`);

const folders = options.durable ? await storeFolders() : undefined;
if (folders) log(`durable: each client's fileStore in ${folders.root}`);
const common = {
  messages: options.messages,
  random,
  log,
  ...(inspector ? { inspect: inspector.inspect } : {}),
};
const clients: ClientRun[] = [];
if (options.transport !== 'sse') {
  const transport = webSocketTransport({ url: listening.wsUrl, WebSocket });
  const storePath = folders?.pathOf('ws-1');
  clients.push(startClient({ name: 'ws-1', kind: 'websocket', transport, ...common, storePath }));
}
if (options.transport !== 'ws') {
  const transport = sseTransport({ url: listening.sseUrl, EventSource });
  const storePath = folders?.pathOf('sse-1');
  clients.push(startClient({ name: 'sse-1', kind: 'sse', transport, ...common, storePath }));
}

let published = 0;
const publisher = setInterval(() => server.publish('feed', ++published), 25);
const chaos =
  options.chaos === 'off'
    ? undefined
    : startChaos({
        server,
        clients,
        random,
        timeline,
        everyMs: options.chaos === 'heavy' ? 250 : 600,
        kills: options.durable,
      });

await Promise.all(clients.map((c) => c.finished));
chaos?.stop();
clearInterval(publisher);
// Let every client catch up with the feed before counting.
const deadline = performance.now() + 10_000;
while (clients.some((c) => new Set(c.feed).size < published) && performance.now() < deadline) {
  for (const c of clients) if (c.conn.state === 'suspended') c.conn.resume();
  await new Promise((resolve) => setTimeout(resolve, 20));
}

const rows = clientRows(clients, arrivals, published);
printReport(timeline.console, rows, published);
if (options.json) {
  // Written before exit(), which on some platforms would cut a pipe write short.
  await new Promise<void>((resolve) =>
    process.stdout.write(`${JSON.stringify({ clients: rows })}\n`, () => resolve()),
  );
}

if (inspector) {
  // The run is over, but the machines stay up (connected, heartbeats flowing) so there is
  // something to look at in the inspector, until the person watching has seen enough.
  const interrupted = untilInterrupted();
  log(`inspector: still serving ${inspector.url}; press Ctrl-C to stop`);
  await interrupted;
  log('Ctrl-C: closing the clients, the server and the inspector');
}
for (const c of clients) c.conn.close();
// Each store is let go after its connection closed; then its folder can go.
await Promise.all(clients.map((c) => c.released));
await folders?.remove();
await listening.close();
inspector?.stop();
process.exit(anythingWrong(rows) ? 1 : 0);

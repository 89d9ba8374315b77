/**
 * `npm run soak -- --clients 200 --seconds 60`: the reference server in its own process
 * (or `--nodes N` of them, client i pinned to node i % N), the clients spread over
 * `--workers W` child processes, half on WebSocket and half on SSE, each sending 20
 * messages a second and watching a feed the servers publish to, while every 2 s a seeded
 * fault drops links, forgets connection ids, fails sends with 503 or restarts a node —
 * keeping its state (`--restart-mode keep`) or SIGKILLed and started again on the same port
 * (`crash`: sessions and logs lost). `--redis`: the nodes share one redis-server the soak
 * starts and sit behind haproxy, so a reconnect may land on any node, and a restart is a
 * SIGKILL that loses nothing. The verdict compares what the servers' apps got (an
 * append-only file per node, or with `--redis` a list their apps append to in one
 * transaction with the serial) with what each client was told, and exits 1 on any loss,
 * duplicate or reordering that was not reported. `--seed S`, `--json` (stdout is one JSON
 * summary). Files: demo/soak/ (docs/reliability.md, "Soak over real sockets").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from './options.js';
import { readSoakOptions } from './soak/args.js';
import { startChaos } from './soak/chaos.js';
import { killChildrenOnExit } from './soak/children.js';
import type { ProcessFigures } from './soak/nodes.js';
import { latency, printSummary, type Summary } from './soak/report.js';
import { startServers } from './soak/servers.js';
import { ownStats } from './soak/stats.js';
import { failures, judge } from './soak/verdict.js';
import { planClients, startWorkers } from './soak/workers.js';

killChildrenOnExit();
const options = readSoakOptions(process.argv.slice(2));
const intervalMs = 50;
const perClient = Math.floor((options.seconds * 1000) / intervalMs);
const out = options.json ? process.stderr : process.stdout;
const began = Date.now();
const log = (line: string) => out.write(`+${((Date.now() - began) / 1000).toFixed(1)}s  ${line}\n`);
const folder = mkdtempSync(join(tmpdir(), 'holdfast-soak-'));
// Removed however the soak ends (Ctrl-C too), unless a failure keeps it for a look.
let keepFolder = false;
process.on('exit', () => {
  if (!keepFolder) rmSync(folder, { recursive: true, force: true });
});

const servers = await startServers(options, folder);
const plans = planClients(options);
const workers = await startWorkers(options, plans, servers.addresses, perClient, intervalMs);
log(
  `soak: ${options.clients} clients (${workers.open} open) on ${options.workers} workers, ` +
    `${options.nodes} node(s) ${servers.where}, ` +
    `${options.seconds} s × ${1000 / intervalMs} messages/s, seed ${options.seed}, ` +
    `restarts: ${options.restartMode}`,
);

const goAt = Date.now() + 100;
const sending = workers.go(goAt);
await new Promise((resolve) => setTimeout(resolve, goAt - Date.now()));
const endAt = goAt + perClient * intervalMs;
const chaos = startChaos(servers.nodes, options, seededRandom(options.seed), log, endAt);
await sending;
await chaos.stop();
const heads = await servers.stopFeed();
log('every message sent; waiting for the last confirmations and feed events');
const results = await workers.finish(heads);
await workers.kill();
await servers.stopNodes();
const arrivals = await servers.arrivals();
await servers.stop();
log('clients and servers stopped; judging');

const records = results.flatMap((r) => r.clients);
const totals = judge(records, arrivals, heads);
const { rssMb, cpuSeconds } = ownStats();
const parent: ProcessFigures = { name: 'parent', rssMb, peakRssMb: rssMb, cpuSeconds };
const summary: Summary = {
  options,
  totals,
  latency: {
    all: latency(results.flatMap((r) => [r.latencies.websocket, r.latencies.sse])),
    websocket: latency(results.map((r) => r.latencies.websocket)),
    sse: latency(results.map((r) => r.latencies.sse)),
  },
  workerLagP99Ms: Math.max(...results.map((r) => r.lagP99Ms)),
  chaos: chaos.counts,
  ...(arrivals.absorbed === undefined ? {} : { absorbed: arrivals.absorbed }),
  processes: [parent, ...servers.figures, ...workers.figures],
  wallSeconds: (Date.now() - began) / 1000,
  failures: failures(totals),
};
printSummary(out, summary);
if (options.json) {
  await new Promise<void>((resolve) =>
    process.stdout.write(`${JSON.stringify(summary)}\n`, () => resolve()),
  );
}
keepFolder = summary.failures.length > 0;
if (keepFolder) out.write(`soak: the arrivals files are kept in ${folder}\n`);
process.exit(summary.failures.length === 0 ? 0 : 1);

/** The soak's summary: one table of totals, one of processes, and optionally one JSON line. */
import type { SoakOptions } from './args.js';
import type { ProcessFigures } from './nodes.js';
import type { Totals } from './verdict.js';

export interface Summary {
  options: SoakOptions;
  totals: Totals;
  /** Send-to-confirm, over all clients and by transport. */
  latency: Record<'all' | 'websocket' | 'sse', Latency>;
  /** Worst p99 event-loop delay of a client worker while sending. */
  workerLagP99Ms: number;
  chaos: Record<string, number>;
  /** With `--redis`: hand-overs of a message already applied, made no-ops by the app. */
  absorbed?: number;
  processes: ProcessFigures[];
  wallSeconds: number;
  failures: string[];
}

export interface Latency {
  p50Ms: number;
  p99Ms: number;
}

/** p50 and p99 of send-to-confirm latencies, in ms. */
export function latency(all: readonly Float32Array[]): Latency {
  const sorted = new Float32Array(all.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of all) {
    sorted.set(a, at);
    at += a.length;
  }
  sorted.sort();
  const pick = (p: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
  return { p50Ms: pick(0.5), p99Ms: pick(0.99) };
}

const list = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';

export function printSummary(out: NodeJS.WritableStream, s: Summary): void {
  const t = s.totals;
  const rows: Array<[string, string | number]> = [
    ['clients × seconds', `${s.options.clients} × ${s.options.seconds} s`],
    ['sent / confirmed', `${t.sent} / ${t.confirmed}`],
    ['rejected', list(t.rejectedBy)],
    ['unsettled at the end', t.unsettled],
    ['arrivals at the servers', t.arrivals],
    ...(s.absorbed === undefined
      ? []
      : [['handed over again, absorbed by the app', s.absorbed] as [string, number]]),
    [
      'session-lost reported',
      `${t.sessionLostReports} (${t.sessionLostMessages} messages; ${t.sessionLostShort} naming more than were unsettled)`,
    ],
    ['reported resends (arrived twice)', t.reportedResends],
    ['LOST', t.lost],
    ['DUPLICATED (unreported)', t.duplicated],
    ['REORDERED', t.reordered],
    ['arrived though rejected unsent', t.arrivedThoughUnsent],
    ['unknown arrivals', t.unknownArrivals],
    ['feed events', t.feed.events],
    ['feed resets / gaps reported', `${t.feed.resets} / ${t.feed.gaps}`],
    [
      'feed dup / reordered / silent holes / silent resets / mismatched / behind',
      `${t.feed.duplicated} / ${t.feed.reordered} / ${t.feed.unreportedHoles} / ${t.feed.unreportedResets} / ${t.feed.mismatched} / ${t.feed.behind}`,
    ],
    ['reconnects', t.reconnects],
    ['errors by kind', list(t.errors)],
    ['chaos', list(s.chaos)],
    [
      'latency p50 / p99: all, WebSocket, SSE',
      `${(['all', 'websocket', 'sse'] as const).map((k) => `${s.latency[k].p50Ms} / ${s.latency[k].p99Ms}`).join(', ')} ms`,
    ],
    ['client worker event-loop p99', `${s.workerLagP99Ms} ms`],
    ['wall time', `${s.wallSeconds.toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.write(`  ${k.padEnd(width)}  ${v}\n`);
  out.write('\n  process      rss end / peak   cpu\n');
  for (const p of s.processes) {
    out.write(
      `  ${p.name.padEnd(11)}  ${`${p.rssMb} / ${p.peakRssMb} MB`.padEnd(15)}  ${p.cpuSeconds.toFixed(1)} s\n`,
    );
  }
  out.write(
    s.failures.length === 0
      ? '\nsoak: passed: nothing lost, duplicated or reordered without being reported\n'
      : `\nsoak: FAILED: ${s.failures.join('; ')}\n`,
  );
}

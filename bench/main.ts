/**
 * `npm run bench [-- --json] [-- --tiny]`: every figure of docs/benchmarks.md beside its
 * baseline, as a table; with --json the last line is one JSON object.
 */
import {
  contextThroughput,
  flush,
  machineOverhead,
  memory,
  recovery,
  sizes,
  webSocketThroughput,
} from './figures.js';
import { frameCost } from './frames.js';
import { type RedisFigures, redisFigures } from './redis.js';
import { confirmedVsSocketIo } from './socketio.js';
import { storeThroughput } from './store.js';

export async function runBenchmarks(tiny: boolean) {
  const n = (full: number, small: number) => (tiny ? small : full);
  const overhead = await machineOverhead(n(20_000, 50));
  const ws = await webSocketThroughput(n(100_000, 50));
  const context = await contextThroughput(n(100_000, 50));
  const flushed = await flush(n(10_000, 20));
  const recovered = await recovery(n(50, 2));
  const heap = await memory(n(500, 5), n(10_000, 20));
  const size = await sizes();
  const frames = await frameCost(n(20_000, 50), n(10_000, 100));
  const socketIo = await confirmedVsSocketIo(n(50_000, 50));
  const stores = await storeThroughput(n(100_000, 50), n(5, 1));
  // 10,000, not figure 9's 100,000: one session's messages are taken one at a time, each
  // a claim and a commit script in turn, so a round of 100,000 would take half a minute.
  const redis = await redisFigures({
    messages: n(10_000, 50),
    rounds: n(5, 1),
    watchers: n(1_000, 30),
    perRound: n(40, 5),
  });
  const measured = 'skipped' in redis ? undefined : redis;
  const overheadUs =
    (overhead['holdfast, 64 in flight'] ?? 0) - (overhead['direct link, 64 in flight'] ?? 0);
  const summary = {
    overheadUsPerMsg: overheadUs,
    wsConfirmedRatio: ws.ratio,
    sseFlushBatchRatio: flushed.ratio,
    recoveryRoundTrips: Math.max(
      recovered.websocket?.roundTrips ?? 0,
      recovered.sse?.roundTrips ?? 0,
    ),
    heapPerIdleConnectionKB: heap.perIdleConnectionKB,
    sizeMinGzBytes: size.holdfastWithoutXstate,
    frameCostRatio: frames.ratio,
    socketIoAppPacedRatio: socketIo.paced.ratio,
    socketIoBurstRatio: socketIo.burst.ratio,
    memoryStoreRatio: stores.memoryRatio,
    fileStoreRatio: stores.fileRatio,
    memoryStoreWritesPerMsg: stores.memoryPerMessage.writes,
    fileStoreWritesPerMsg: stores.filePerMessage.writes,
    // null when redis-server is missing (the bench printed why).
    redisStoreRatio: measured?.throughput.ratio ?? null,
    redisFanOutRatio: measured?.fanOut.ratio ?? null,
  };
  return {
    summary,
    details: {
      overhead,
      ws,
      context,
      flushed,
      recovered,
      heap,
      size,
      frames,
      socketIo,
      stores,
      redis,
    },
  };
}

/** The two rows of figure 10, or both saying why they were skipped. */
function redisRows(redis: RedisFigures, f: (x: number, d?: number) => string): string[][] {
  const throughputFigure = 'confirmed WebSocket throughput, redisStore / memory store (server)';
  if ('skipped' in redis)
    return [
      [throughputFigure, '—', redis.skipped, '—'],
      ['fan-out to 1,000 watchers, 3 processes + Redis / 1 process', '—', redis.skipped, '—'],
    ];
  const { throughput: t, fanOut: o } = redis;
  return [
    [
      throughputFigure,
      f(t.ratio),
      `${t.redisPerSec} vs ${t.memoryPerSec} msg/s (${t.messages.toLocaleString('en')} × 100 B, window 64, one connection); Redis PING ${f(t.redisRoundTripUs, 0)} µs`,
      '—',
    ],
    [
      `fan-out to ${o.watchers.toLocaleString('en')} watchers, time to the last: ${o.processes} processes + Redis / 1 process`,
      f(o.ratio),
      `median ${f(o.redisMedianMs)} vs ${f(o.memoryMedianMs)} ms, p99 ${f(o.redisP99Ms)} vs ${f(o.memoryP99Ms)} (${o.publishes} publishes each)`,
      '—',
    ],
  ];
}

const isMain = process.argv[1]?.endsWith('main.ts');
if (isMain) {
  const json = process.argv.includes('--json');
  const { summary, details } = await runBenchmarks(process.argv.includes('--tiny'));
  const f = (x: number, d = 2) => x.toFixed(d);
  const rows = [
    [
      'machine overhead, µs/message (64 in flight)',
      f(summary.overheadUsPerMsg),
      `holdfast ${f(details.overhead['holdfast, 64 in flight'] ?? 0)} vs direct ${f(details.overhead['direct link, 64 in flight'] ?? 0)} µs; 1 in flight: ${f(details.overhead['holdfast, 1 in flight'] ?? 0)} vs ${f(details.overhead['direct link, 1 in flight'] ?? 0)}`,
      '≤ 5',
    ],
    [
      'confirmed WebSocket throughput, holdfast / raw ws',
      f(summary.wsConfirmedRatio),
      `${details.ws.holdfastPerSec} vs ${details.ws.rawPerSec} msg/s; unconfirmed, for context: partysocket ${details.context.partysocket}, reconnecting-websocket ${details.context['reconnecting-websocket']}`,
      '≥ 0.8',
    ],
    [
      'SSE flush, one per POST / batched',
      f(summary.sseFlushBatchRatio, 1),
      `${f(details.flushed.sseUnbatchedMs, 0)} vs ${f(details.flushed.sseBatchedMs, 0)} ms (WebSocket ${f(details.flushed.webSocketMs, 0)} ms)`,
      '≥ 20',
    ],
    [
      'recovery to open, round trips',
      f(summary.recoveryRoundTrips, 1),
      `ws median ${f(details.recovered.websocket?.medianMs ?? 0)} ms p99 ${f(details.recovered.websocket?.p99Ms ?? 0)}; sse median ${f(details.recovered.sse?.medianMs ?? 0)} p99 ${f(details.recovered.sse?.p99Ms ?? 0)}; rtt ${f(details.recovered.rttMs)} ms`,
      '≤ 3',
    ],
    [
      'heap per idle connection, KB',
      f(summary.heapPerIdleConnectionKB, 1),
      `per queued 100-byte message ${f(details.heap.perQueuedMessageBytes, 0)} B${details.heap.measuredWithGc ? '' : ' (no --expose-gc: rough)'}`,
      '≤ 20',
    ],
    [
      'holdfast + websocket, min+gz bytes (no xstate)',
      String(summary.sizeMinGzBytes),
      `with xstate ${details.size.holdfastWithXstate}; partysocket ${details.size.partysocket}, reconnecting-websocket ${details.size.reconnectingWebsocket}, socket.io-client ${details.size.socketIoClient}`,
      '≤ 6144',
    ],
    [
      `inbound frame, µs with ${details.frames.streams.toLocaleString('en')} streams watched / with 1`,
      f(summary.frameCostRatio),
      `${f(details.frames.manyStreamsUsPerFrame)} vs ${f(details.frames.oneStreamUsPerFrame)} µs per frame`,
      '≤ 2',
    ],
    [
      'confirmed delivery app-paced, holdfast / socket.io emit+ack',
      f(summary.socketIoAppPacedRatio),
      `${details.socketIo.paced.holdfastPerSec} vs ${details.socketIo.paced.socketIoPerSec} msg/s (${details.socketIo.messages.toLocaleString('en')} × 100 B, ${details.socketIo.window} unconfirmed, a new send as each is confirmed)`,
      '≥ 1.0',
    ],
    [
      'confirmed delivery in a burst, holdfast / socket.io emit+ack',
      f(summary.socketIoBurstRatio),
      `${details.socketIo.burst.holdfastPerSec} vs ${details.socketIo.burst.socketIoPerSec} msg/s (all sent at once; ${details.socketIo.window} unconfirmed, the rest queued)`,
      '≥ 1.0',
    ],
    ...(['memory', 'file'] as const).map((kind) => {
      const perSec = kind === 'memory' ? details.stores.memoryPerSec : details.stores.filePerSec;
      const per = details.stores[`${kind}PerMessage`];
      return [
        `confirmed WebSocket throughput, ${kind}Store / no store`,
        f(kind === 'memory' ? summary.memoryStoreRatio : summary.fileStoreRatio),
        `${perSec} vs ${details.stores.noStorePerSec} msg/s; ${f(per.writes, 4)} store writes per message (${f(per.puts)} puts, ${f(per.removes)} removals)`,
        '—',
      ];
    }),
    ...redisRows(details.redis, f),
  ];
  console.table(
    rows.map(([figure, value, baseline, target]) => ({ figure, value, baseline, target })),
  );
  if (json) console.log(JSON.stringify(summary));
  process.exit(0);
}

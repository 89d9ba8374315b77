/**
 * The transports of `examples/` through the conformance kit, each against its own server:
 * the worked example a third party copies must pass what it teaches. The seed server has
 * no restart, so the restart scenarios and path step are reported skipped; it does not say
 * how many event streams it holds open, so R14 at the server is reported unchecked. The
 * plain WebSocket server keeps no ids and no logs (`delivery: 'written'`): only the cases
 * that need neither run over it.
 */
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createPlainServer } from '../../examples/plain-websocket/server.js';
import { plainWebSocketTransport } from '../../examples/plain-websocket/transport.js';
import { createSeedServer } from '../../examples/seed-sse/server.js';
import { seedTransport } from '../../examples/seed-sse/transport.js';
import { assertConformance, runConformance, type ServerHooks } from '../../src/testing/index.js';

describe('conformance kit: examples/ transports', () => {
  let holding = false;
  const seed = createSeedServer({
    heartbeatMs: 50,
    // A held reconnect never answers: the client's resume timeout ends it.
    beforeReplay: () => (holding ? new Promise<void>(() => {}) : undefined),
  });
  let listening: Awaited<ReturnType<typeof seed.listen>>;
  beforeAll(async () => {
    listening = await seed.listen();
  });
  afterAll(() => listening.close());

  const hooks: ServerHooks = {
    received: () => seed.seen.received,
    publish: (stream, data) => seed.publish(stream, data),
    dropLinks: () => seed.faults.dropStreams(),
    loseNextAck: () => seed.faults.loseNextAnswers(1),
    failNextSends: (count) => seed.faults.failNextSends(count),
    holdResumes: (on) => {
      holding = on;
    },
    staleLinks: () => seed.faults.forgetConnections(),
  };

  it('seed-sse passes every case its server has hooks for', async () => {
    const report = await runConformance({
      name: 'examples/seed-sse',
      transport: () => seedTransport({ url: listening.url, EventSource }),
      server: hooks,
    });
    assertConformance(report);
    expect(report.results.filter((r) => r.status === 'skipped').map((r) => r.id)).toEqual([
      'restart',
      'restart-state-lost',
      'paths-restart',
    ]);
    expect(report.unchecked).toEqual([
      'R14 at the server: the server hooks have no liveLinks(), so a link the transport left open at the server goes unseen',
    ]);
  }, 60_000);

  it("plain-websocket (delivery: 'written') passes the cases that need no ids and no log", async () => {
    const plain = createPlainServer();
    const { url, close } = await plain.listen();
    const report = await runConformance({
      name: 'examples/plain-websocket',
      transport: () => plainWebSocketTransport({ url, WebSocket }),
      server: {
        // No ids on this wire: the kit's own are in the data it sends, `{ conformance: id }`.
        received: () =>
          plain.seen.received.map((r) => ({
            id: String((r.data as { conformance?: unknown } | null)?.conformance),
          })),
        // No log, no seq: pushed to every socket, as this server does.
        publish: (_stream, data) => plain.push(data),
        dropLinks: () => plain.faults.dropAll(),
        liveLinks: () => plain.seen.links - plain.seen.closed.length,
      },
      cases: ['close-before-open', 'sends-settle', 'callbacks-after-close'],
    });
    await close();
    assertConformance(report);
    expect(report.results.map((r) => r.status)).toEqual(['passed', 'passed', 'passed']);
    expect(report.unchecked).toEqual([
      "sends-settle: an ok from a delivery: 'written' transport says written, not received: not checked against the server",
    ]);
  }, 30_000);
});

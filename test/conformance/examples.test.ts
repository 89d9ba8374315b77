/**
 * The transports of `examples/` through the conformance kit, each against its own server:
 * the worked example a third party copies must pass what it teaches. The seed server has
 * no restart, so the restart scenarios and path steps are reported skipped.
 */
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    ]);
  }, 60_000);
});

/** Every benchmark of `npm run bench`, run once with tiny sizes so none of them rots. */
import { describe, expect, it } from 'vitest';
import { runBenchmarks } from '../bench/main.js';
import { PAYLOAD } from '../bench/socketio.js';

describe('benchmarks (smoke, tiny sizes)', () => {
  it('each figure is measured and finite', async () => {
    const { summary } = await runBenchmarks(true);
    expect(Object.keys(summary).sort()).toEqual(
      [
        'frameCostRatio',
        'heapPerIdleConnectionKB',
        'overheadUsPerMsg',
        'recoveryRoundTrips',
        'sizeMinGzBytes',
        'socketIoAppPacedRatio',
        'socketIoBurstRatio',
        'sseFlushBatchRatio',
        'wsConfirmedRatio',
      ].sort(),
    );
    for (const value of Object.values(summary)) expect(Number.isFinite(value)).toBe(true);
    expect(summary.sizeMinGzBytes).toBeGreaterThan(1000);
    expect(summary.wsConfirmedRatio).toBeGreaterThan(0);
    expect(summary.frameCostRatio).toBeGreaterThan(0);
    expect(summary.socketIoAppPacedRatio).toBeGreaterThan(0);
    expect(summary.socketIoBurstRatio).toBeGreaterThan(0);
    // The same 100-byte object for holdfast and socket.io.
    expect(JSON.stringify(PAYLOAD).length).toBe(100);
  }, 60_000);
});

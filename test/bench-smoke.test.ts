/** Every benchmark of `npm run bench`, run once with tiny sizes so none of them rots. */
import { describe, expect, it } from 'vitest';
import { runBenchmarks } from '../bench/main.js';
import { PAYLOAD } from '../bench/socketio.js';

describe('benchmarks (smoke, tiny sizes)', () => {
  it('each figure is measured and finite', async () => {
    const { summary, details } = await runBenchmarks(true);
    expect(Object.keys(summary).sort()).toEqual(
      [
        'fileStoreRatio',
        'fileStoreWritesPerMsg',
        'frameCostRatio',
        'heapPerIdleConnectionKB',
        'memoryStoreRatio',
        'memoryStoreWritesPerMsg',
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
    // Both stores saved every message (at least one write) and were measured against no store.
    expect(summary.memoryStoreRatio).toBeGreaterThan(0);
    expect(summary.fileStoreRatio).toBeGreaterThan(0);
    expect(summary.memoryStoreWritesPerMsg).toBeGreaterThan(0);
    expect(summary.fileStoreWritesPerMsg).toBeGreaterThan(0);
    // Every message saved before it was sent (D1) and removed once confirmed (D2).
    for (const per of [details.stores.memoryPerMessage, details.stores.filePerMessage]) {
      expect(per.puts).toBeGreaterThanOrEqual(1);
      expect(per.removes).toBe(1);
    }
    // The same 100-byte object for holdfast and socket.io.
    expect(JSON.stringify(PAYLOAD).length).toBe(100);
  }, 60_000);
});

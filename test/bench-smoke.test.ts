/** Every benchmark of `npm run bench`, run once with tiny sizes so none of them rots. */
import { describe, expect, it } from 'vitest';
import { runBenchmarks } from '../bench/main.js';

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
        'sseFlushBatchRatio',
        'wsConfirmedRatio',
      ].sort(),
    );
    for (const value of Object.values(summary)) expect(Number.isFinite(value)).toBe(true);
    expect(summary.sizeMinGzBytes).toBeGreaterThan(1000);
    expect(summary.wsConfirmedRatio).toBeGreaterThan(0);
    expect(summary.frameCostRatio).toBeGreaterThan(0);
  }, 60_000);
});

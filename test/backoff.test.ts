import { describe, expect, it } from 'vitest';
import { fullJitterBackoff } from '../src/index.js';

describe('full-jitter backoff', () => {
  it('waits a random share of min(cap, base · 2^(attempt−1))', () => {
    const highest = fullJitterBackoff({ baseMs: 500, capMs: 30_000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 7, 8, 50].map(highest)).toEqual([
      499, 999, 1999, 3999, 29_999, 29_999, 29_999,
    ]);
    const lowest = fullJitterBackoff({ random: () => 0 });
    expect([1, 10, 100].map(lowest)).toEqual([0, 0, 0]);
  });

  it('spreads waits instead of synchronising clients', () => {
    const backoff = fullJitterBackoff();
    const waits = new Set(Array.from({ length: 50 }, () => backoff(6)));
    expect(waits.size).toBeGreaterThan(10);
    for (const wait of waits) expect(wait).toBeLessThan(16_000);
  });
});

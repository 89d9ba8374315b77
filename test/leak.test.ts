/** Leaks: a connection that lives through 10,000 link drops keeps what it needs, no more. */

import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import { createConnection } from '../src/index.js';
import { settle } from './support/settle.js';
import { pendingTimers } from './support/timers.js';

const gc = (globalThis as { gc?: () => void }).gc;

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

describe('leaks', () => {
  it('10,000 link drops and reconnects retain under 1 MB; close leaves no timer, child or listener', async () => {
    expect(gc, 'run with --expose-gc (vitest.config.ts passes it)').toBeTypeOf('function');
    const clock = new SimulatedClock();
    // A small dedup window: the server's own memory of ids is bounded by it, and is not
    // what this test measures.
    const server = createMemoryServer({ heartbeatMs: 0, dedupWindow: 100 });
    const conn = createConnection({ transport: server.transport(), clock, backoff: () => 1 });
    let delivered = 0;
    conn.watch('s');
    const cycle = async (i: number) => {
      conn.send(i).then(
        () => delivered++,
        () => {},
      );
      await settle();
      server.current?.drop();
      await settle();
      clock.increment(1);
      await settle();
    };
    for (let i = 0; i < 1000; i++) await cycle(i);
    const before = heap();
    for (let i = 0; i < 10_000; i++) await cycle(i);
    const growth = heap() - before;
    console.log(`retained heap growth over 10,000 reconnects: ${(growth / 1024).toFixed(1)} KiB`);
    expect(growth).toBeLessThan(1024 * 1024);
    expect(delivered).toBe(11_000);
    expect(server.links.length).toBeLessThanOrEqual(2);

    let calls = 0;
    conn.on('state', () => calls++);
    conn.close();
    expect(calls).toBe(1);
    const timers = pendingTimers(clock);
    expect(timers).toBe(0);
    expect(Object.keys(conn.actor.getSnapshot().children)).toEqual([]);
    conn.resume();
    expect(calls).toBe(1);
  }, 120_000);
});

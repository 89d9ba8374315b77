/** The default clock: real timers, with a 0 ms wait on the next turn of the event loop. */
import { readFile } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Transport } from '../adapters/transport.js';
import { realClock } from '../src/clock.js';
import { createConnection } from '../src/index.js';

const waitMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('the default clock', () => {
  it('runs a 0 ms wait on the next turn, ahead of a 0 ms timer, and can cancel either', async () => {
    const order: string[] = [];
    // From an I/O callback Node runs immediates before timers, whatever the load: the
    // one order in which a 0 ms timer (run after 1 ms) and the next turn differ for sure.
    await new Promise<void>((resolve) =>
      readFile(import.meta.filename ?? new URL(import.meta.url).pathname, () => {
        setTimeout(() => order.push('timer 0'), 0);
        realClock.setTimeout(() => order.push('zero'), 0);
        realClock.clearTimeout(realClock.setTimeout(() => order.push('cancelled'), 0));
        realClock.clearTimeout(realClock.setTimeout(() => order.push('cancelled timer'), 1));
        setTimeout(resolve, 20);
      }),
    );
    expect(order).toEqual(['zero', 'timer 0']);
  });

  it('a transport that fails at once, retried with backoff 0 forever, never starves the event loop', async () => {
    let attempts = 0;
    const failing: Transport = {
      connect() {
        attempts++;
        throw new Error('no network');
      },
    };
    const conn = createConnection({ transport: failing, backoff: () => 0 });
    // Timers still run while it retries: each retry waits for a turn of the event loop.
    await waitMs(30);
    const seen = attempts;
    expect(seen).toBeGreaterThan(1);
    expect(conn.state).not.toBe('closed');
    conn.close();
    await waitMs(5);
    expect(attempts).toBe(seen);
  });
});

/**
 * The cost of an inbound frame with many streams watched against one: the figure that
 * shows frame handling is O(1) in the number of watched streams (issue 11).
 */
import { performance } from 'node:perf_hooks';
import { createConnection } from '../dist/index.js';
import { createMemoryServer } from '../dist/memory.js';
import { median, untilOpen } from './figures.js';

/**
 * 7. µs per inbound frame handled by a connection watching 10,000 streams, and by one
 * watching 1, over the memory transport: frames go round the watched streams, each one
 * position ahead. Alternate rounds after a warm-up; the medians are compared.
 */
export async function frameCost(frames: number, streams = 10_000, rounds = 5) {
  const setUp = async (watched: number) => {
    const server = createMemoryServer({ heartbeatMs: 0 });
    const conn = createConnection({ transport: server.transport() });
    for (let i = 0; i < watched; i++) conn.watch(`s${i}`);
    await untilOpen(conn);
    let next = 0;
    let delivered = 0;
    let done: () => void = () => {};
    conn.on('message', () => {
      if (++delivered === frames) done();
    });
    const round = async () => {
      delivered = 0;
      const all = new Promise<void>((resolve) => {
        done = resolve;
      });
      const link = server.current;
      const started = performance.now();
      for (let i = 0; i < frames; i++, next++) {
        link?.push({ stream: `s${next % watched}`, seq: Math.floor(next / watched) + 1, data: i });
      }
      await all;
      return ((performance.now() - started) * 1000) / frames;
    };
    return { conn, round };
  };
  const one = await setUp(1);
  const many = await setUp(streams);
  await one.round();
  await many.round();
  const oneUs: number[] = [];
  const manyUs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    oneUs.push(await one.round());
    manyUs.push(await many.round());
  }
  one.conn.close();
  many.conn.close();
  return {
    streams,
    oneStreamUsPerFrame: median(oneUs),
    manyStreamsUsPerFrame: median(manyUs),
    ratio: median(manyUs) / median(oneUs),
  };
}

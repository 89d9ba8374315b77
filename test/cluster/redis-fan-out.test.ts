/**
 * Live events across processes through Debian's redis-server (src/redis/fan-out.ts,
 * scale-out.md §2): what one process publishes reaches the watchers of another, in seq
 * order, with one subscription per stream however many watch it; a foreign message on
 * the channel is reported and skipped.
 */
import { describe, expect, it } from 'vitest';
import { type LiveEvent, RedisFanOut, type SubscriberLike } from '../../src/redis/fan-out.js';
import type { RedisLike } from '../../src/redis/scripts.js';
import { RedisStreamLog } from '../../src/redis/stream-log.js';
import { until } from '../integration/wire.js';
import { redisForThisFile } from '../support/redis-server.js';

const redis = redisForThisFile();

const connected = () => redis.client();

describe('fan-out through Redis', () => {
  it('events published by one process reach every watcher of another, in seq order, over one subscription', async () => {
    const publisher = new RedisStreamLog((await connected()) as unknown as RedisLike, 'f1', 1000);
    const sub = await connected();
    const fanOut = new RedisFanOut(sub as unknown as SubscriberLike, 'f1');
    const seen: LiveEvent[] = [];
    const also: number[] = [];
    const stopOne = await fanOut.watch('chat', (e) => seen.push(e));
    const stopTwo = await fanOut.watch('chat', (e) => also.push(e.seq));
    expect(fanOut.streams).toBe(1);
    for (let i = 1; i <= 20; i++) await publisher.publish('chat', JSON.stringify(i));
    await until(() => seen.length === 20 && also.length === 20, '20 events to both watchers');
    expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(seen.map((e) => e.json)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    expect(new Set(seen.map((e) => e.epoch)).size).toBe(1);
    await stopOne();
    expect(fanOut.streams).toBe(1);
    await stopTwo();
    expect(fanOut.streams).toBe(0);
    await publisher.publish('chat', '"after"');
    // A marker on another stream, watched now: once it arrives, "after" would have too.
    const marks: number[] = [];
    await fanOut.watch('marker', (e) => marks.push(e.seq));
    await publisher.publish('marker', '1');
    await until(() => marks.length === 1, 'the marker');
    expect(seen).toHaveLength(20);
  });

  it('a message on the channel that is not one of ours is reported and skipped', async () => {
    const problems: string[] = [];
    const sub = await connected();
    const fanOut = new RedisFanOut(sub as unknown as SubscriberLike, 'f2', (p) => problems.push(p));
    const seen: number[] = [];
    await fanOut.watch('chat', (e) => seen.push(e.seq));
    const raw = await connected();
    await raw.publish('f2:c:chat', 'not an event');
    await raw.publish('f2:c:chat', 'e|7|"ok"');
    await until(() => seen.length === 1, 'the good event');
    expect(seen).toEqual([7]);
    expect(problems).toEqual(["a message on chat's channel that is not epoch|seq|json"]);
  });

  it('a stream unwatched by its last watcher and watched again before Redis answered the unsubscribe still hears its events', async () => {
    const publisher = new RedisStreamLog((await connected()) as unknown as RedisLike, 'f9', 1000);
    const sub = await connected();
    const fanOut = new RedisFanOut(sub as unknown as SubscriberLike, 'f9');
    const stop = await fanOut.watch('feed', () => {});
    // Not awaited: the UNSUBSCRIBE is still on its way when the next watch comes.
    const stopping = stop();
    const seen: number[] = [];
    const stopAgain = await fanOut.watch('feed', (event) => seen.push(event.seq));
    await stopping;
    await publisher.publish('feed', '1');
    await until(() => seen.length === 1, 'the event after watching again');
    expect(seen).toEqual([1]);
    await stopAgain();
  });
});

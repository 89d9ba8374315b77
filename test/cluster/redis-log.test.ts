/**
 * A stream's log in Debian's redis-server (src/redis/stream-log.ts, scale-out.md §2):
 * seqs from 1 in one epoch shared by every process, pages of a replay, trimming to the
 * window, and a new epoch when Redis loses the stream (a flush).
 */
import { describe, expect, it } from 'vitest';
import type { RedisLike } from '../../src/redis/scripts.js';
import { RedisStreamLog } from '../../src/redis/stream-log.js';
import { redisForThisFile } from '../support/redis-server.js';

const redis = redisForThisFile();

async function client() {
  return (await redis.client()) as unknown as RedisLike & Awaited<ReturnType<typeof redis.client>>;
}

describe('a stream log in Redis', () => {
  it('two processes publishing to one stream share one epoch and consecutive seqs', async () => {
    const a = new RedisStreamLog(await client(), 'hf1', 1000);
    const b = new RedisStreamLog(await client(), 'hf1', 1000);
    const before = await a.head('chat');
    expect(before.head).toBe(0);
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const event = await (i % 2 ? a : b).publish('chat', JSON.stringify(i));
      expect(event.epoch).toBe(before.epoch);
      seqs.push(event.seq);
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await b.head('chat')).toEqual({ stream: 'chat', epoch: before.epoch, head: 6 });
  });

  it('a replay reads in pages after a seq, oldest first', async () => {
    const log = new RedisStreamLog(await client(), 'hf2', 1000);
    for (let i = 1; i <= 25; i++) await log.publish('feed', JSON.stringify({ i }));
    const first = await log.after('feed', 3, 10);
    expect(first.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const last = await log.after('feed', 20, 10);
    expect(last.map((e) => e.json)).toEqual([21, 22, 23, 24, 25].map((i) => JSON.stringify({ i })));
  });

  it('a flush loses the stream: the next head or publish starts a new epoch from seq 1', async () => {
    const c = await client();
    const log = new RedisStreamLog(c, 'hf3', 1000);
    await log.publish('news', '"a"');
    await log.publish('news', '"b"');
    const old = await log.head('news');
    await c.flushAll();
    const fresh = await log.head('news');
    expect(fresh.epoch).not.toBe(old.epoch);
    expect(fresh.head).toBe(0);
    const event = await log.publish('news', '"c"');
    expect(event).toMatchObject({ seq: 1, epoch: fresh.epoch });
    expect((await log.after('news', 0, 10)).map((e) => e.json)).toEqual(['"c"']);
  });

  it('the meta a resume made for a stream nobody published to expires; the first event makes it last', async () => {
    const redis = await client();
    const log = new RedisStreamLog(redis, 'hf7', 1000);
    await log.head('made-up');
    const ttl = Number(
      await (redis as unknown as { pTTL(k: string): Promise<number> }).pTTL('hf7:m:made-up'),
    );
    expect(ttl).toBeGreaterThan(86_000_000);
    await log.publish('made-up', '1');
    expect(
      await (redis as unknown as { pTTL(k: string): Promise<number> }).pTTL('hf7:m:made-up'),
    ).toBe(-1);
  });

  it('the log keeps about the replay window: old entries are trimmed, the seq goes on', async () => {
    const c = await client();
    const log = new RedisStreamLog(c, 'hf4', 100);
    for (let i = 1; i <= 1000; i++) await log.publish('busy', String(i));
    const length = await c.xLen('hf4:l:busy');
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(1000);
    expect((await log.head('busy')).head).toBe(1000);
  });

  it('records in the log that holdfast did not write are skipped on replay, never handed on as events', async () => {
    const c = await client();
    const log = new RedisStreamLog(c, 'hf5', 1000);
    await log.publish('mixed', '"one"');
    // Another writer on the same key: an entry without our field, and one at a later id.
    await c.xAdd('hf5:l:mixed', '2-1', { other: 'x' });
    await c.xAdd('hf5:l:mixed', '3-1', { d: '"three"' });
    expect((await log.after('mixed', 0, 10)).map((e) => [e.seq, e.json])).toEqual([
      [1, '"one"'],
      [3, '"three"'],
    ]);
  });

  it('a meta hash another writer broke is answered with an error naming the script, not a wrong seq', async () => {
    const c = await client();
    const log = new RedisStreamLog(c, 'hf6', 1000);
    await c.hSet('hf6:m:odd', { seq: 'not a number', epoch: 'e' });
    await expect(log.publish('odd', '1')).rejects.toThrow(
      /hash value is not an integer|append script/,
    );
  });
});

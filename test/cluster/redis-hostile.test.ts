/**
 * Records in Redis that holdfast did not write (another writer, an operator, a broken
 * tool) never become events or wrong seqs (docs/scale-out.md): a server on `redisStore`
 * over Debian's redis-server, with the log or meta rewritten under it.
 */
import { describe, expect, it } from 'vitest';
import { redisStore } from '../../src/redis/index.js';
import type { ServerErrorContext } from '../../src/server/index.js';
import { until } from '../integration/wire.js';
import { redisForThisFile } from '../support/redis-server.js';
import { open, sessionId, startServer, v2 } from '../support/server-wire.js';

const redis = redisForThisFile();

async function serve(prefix: string) {
  const client = await redis.client();
  const errors: Array<{ during: ServerErrorContext['during']; message: string }> = [];
  const store = redisStore({ client: client as never, prefix, onError: () => {} });
  const started = await startServer({
    store,
    onError: (error, context) => errors.push({ during: context.during, message: String(error) }),
  });
  return { ...started, client, errors, closeStore: () => store.close() };
}

const seqs = (client: Awaited<ReturnType<typeof open>>) =>
  client.frames().flatMap((f) => (f.type === 'event' ? [f.seq] : []));

/** Rewrite a stream's log as another writer would, with `extra(seq)` added after each entry. */
async function rewrite(
  client: Awaited<ReturnType<typeof redis.client>>,
  key: string,
  count: number,
  extra: (seq: number) => Promise<unknown> = async () => {},
) {
  await client.del(key);
  for (let n = 1; n <= count; n++) {
    await client.xAdd(key, `${n}-1`, { d: String(n) });
    await extra(n);
  }
}

describe('a server on redisStore, with records it did not write', () => {
  it('a foreign entry in the log is skipped and the rest of the backlog up to the head is still replayed', async () => {
    const { listening, server, client, closeStore } = await serve('h1');
    for (let n = 1; n <= 1500; n++) await server.publish('feed', n);
    await rewrite(client, 'h1:l:feed', 1500, (n) =>
      n === 10 ? client.xAdd('h1:l:feed', '10-2', { other: 'x' }) : Promise.resolve(),
    );
    const reader = await open('websocket', listening, v2(sessionId('h1')));
    expect(await reader.resume([{ stream: 'feed', seq: 0 }])).toBe('resumed');
    await until(() => seqs(reader).length >= 1500, 'the whole backlog', 5000);
    expect(seqs(reader)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    await closeStore();
  });

  it('an entry under an id holdfast never writes (<seq>-0) is never replayed as an event', async () => {
    const { listening, server, client, closeStore } = await serve('h2');
    for (let n = 1; n <= 5; n++) await server.publish('feed', n);
    await client.del('h2:l:feed');
    for (let n = 1; n <= 5; n++) {
      if (n === 3) await client.xAdd('h2:l:feed', '3-0', { d: '"forged"' });
      await client.xAdd('h2:l:feed', `${n}-1`, { d: String(n) });
    }
    const reader = await open('websocket', listening, v2(sessionId('h2')));
    expect(await reader.resume([{ stream: 'feed', seq: 0 }])).toBe('resumed');
    await until(() => seqs(reader).length >= 5, 'the backlog');
    expect(seqs(reader)).toEqual([1, 2, 3, 4, 5]);
    await closeStore();
  });

  it('a meta whose epoch no live message could carry fails resumes and publishes loudly, naming the script, and costs nothing else', async () => {
    const { listening, server, client, errors, closeStore } = await serve('h3');
    await client.hSet('h3:m:feed', { seq: '0', epoch: 'a|b' });
    const reader = await open('websocket', listening, v2(sessionId('h3')));
    const resumed = await reader.resume([{ stream: 'feed', seq: 0 }]);
    expect(resumed).toMatchObject({ code: 1011 });
    await expect(server.publish('feed', 1)).rejects.toThrow('the append script answered');
    expect(errors.map((e) => e.during)).toEqual(['store']);
    expect(errors[0]?.message).toContain('the head script answered');
    // Another stream on the same server is unaffected.
    const other = await open('websocket', listening, v2(sessionId('h3b')));
    expect(await other.resume([{ stream: 'other', seq: 0 }])).toBe('resumed');
    await server.publish('other', 'fine');
    await until(() => seqs(other).length === 1, 'the event on the other stream');
    await closeStore();
  });
});

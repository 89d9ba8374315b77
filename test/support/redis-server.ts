/**
 * Debian's `redis-server` for the tests: `startRedis` (in tools/cluster-parts.ts, which
 * the soak shares) starts it on a free port of 127.0.0.1 in a temporary folder, without
 * persistence, and `stop()` kills it and removes its folder.
 */
import { createClient } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, startRedis } from '../../tools/cluster-parts.js';

export { type RedisServer, startRedis };

/**
 * One redis-server for a test file (started before its tests, stopped after them) and
 * node-redis clients on it, each closed after the tests.
 */
export function redisForThisFile() {
  let server: RedisServer | undefined;
  const clients: Array<{ close(): Promise<unknown> }> = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const client of clients.splice(0)) await client.close();
    await server?.stop();
  });
  return {
    /** A connected client; cast it to the `*Like` interface the code under test takes. */
    async client() {
      if (server === undefined)
        throw new Error('redisForThisFile(): redis-server is not started yet');
      const c = createClient({ url: server.url });
      await c.connect();
      clients.push(c);
      return c;
    },
  };
}

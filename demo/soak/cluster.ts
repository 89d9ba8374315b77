/**
 * `--redis`: the server side as a cluster of real parts. Debian's redis-server on a free
 * port, N nodes on `redisStore` under one prefix (their apps apply each message in Redis
 * with its serial: `redis-app.ts`), haproxy with `deploy/haproxy.cfg` in front of them, so
 * every client has one address and a reconnect may land on any node. The feed is one
 * stream for all: this process publishes it through a store of its own, as a worker that
 * only has Redis would (`store.publish`), and every node fans it out to its links.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import { redisStore } from '../../src/redis/index.js';
import { startHaproxy, startRedis } from '../../tools/cluster-parts.js';
import type { SoakOptions } from './args.js';
import { adopt } from './children.js';
import { FEED_EVERY_MS, heartbeatMs, startNode } from './nodes.js';
import { APP_KEYS } from './redis-app.js';
import type { Servers } from './servers.js';
import { parseArrivals } from './verdict.js';

/** The store's prefix, shared by every node and the feed's publisher. */
const PREFIX = 'hf';
/** Arrivals read per LRANGE, so no reply is huge. */
const PAGE = 50_000;

export async function startCluster(
  options: SoakOptions,
  folder: string,
  script: string,
): Promise<Servers> {
  const redis = await startRedis();
  adopt(redis.process);
  // Ctrl-C ends the soak with process.exit, past any await: its folder goes then too.
  process.on('exit', () => rmSync(redis.dir, { recursive: true, force: true }));
  const setup = {
    script,
    heartbeatMs: heartbeatMs(true),
    redis: { url: redis.url, prefix: PREFIX },
  };
  const nodes = await Promise.all(
    Array.from({ length: options.nodes }, (_, i) => startNode(i, folder, setup)),
  );
  const haproxy = await startHaproxy(nodes.map((n) => new URL(n.address.wsUrl).host));
  adopt(haproxy.process);
  const feed = startFeed(redis.url);
  const front = `127.0.0.1:${haproxy.port}`;
  return {
    nodes,
    addresses: [{ wsUrl: `ws://${front}/ws`, sseUrl: `http://${front}/sse` }],
    where: `on Redis ${redis.url} behind haproxy at ${front}`,
    figures: nodes.map((n) => n.figures),
    stopFeed: async () => [await feed.stop()],
    async stopNodes() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
    async arrivals() {
      const client = createClient({ url: redis.url });
      client.on('error', (error: unknown) => console.error(`soak: redis: ${String(error)}`));
      await client.connect();
      try {
        const lines: string[] = [];
        const total = await client.lLen(APP_KEYS.arrivals);
        for (let at = 0; at < total; at += PAGE)
          for (const line of await client.lRange(APP_KEYS.arrivals, at, at + PAGE - 1))
            lines.push(line);
        // A copy in the run's folder, which a failed run keeps for a look.
        writeFileSync(join(folder, 'arrivals-redis.txt'), `${lines.join('\n')}\n`);
        const absorbed = Number((await client.get(APP_KEYS.absorbed)) ?? 0);
        return { ...parseArrivals(lines), absorbed };
      } finally {
        await client.close();
      }
    },
    async stop() {
      await haproxy.stop();
      await redis.stop();
    },
  };
}

/**
 * The feed, published from here every `FEED_EVERY_MS`: `{ g, k }` with this run's
 * generation and a counter from 1, so k is the event's seq (a fresh Redis, one
 * publisher). One publish at a time: the next waits for the last to be logged, or the
 * counter could run ahead of the log's order.
 */
function startFeed(url: string) {
  const store = redisStore({ url, prefix: PREFIX });
  const gen = randomBytes(4).toString('hex');
  let k = 0;
  let publishing: Promise<void> | undefined;
  const publish = () => {
    publishing = store
      .publish('feed', { g: gen, k: k + 1 })
      .then(
        () => {
          k++;
        },
        // Not expected of a healthy Redis; if it was logged after all, the next event's
        // seq runs ahead of its k and the verdict says so (mismatched).
        (error: unknown) => console.error(`soak feed: a publish failed: ${String(error)}`),
      )
      .finally(() => {
        publishing = undefined;
      });
  };
  const timer = setInterval(() => {
    if (publishing === undefined) publish();
  }, FEED_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await publishing;
      publish();
      await publishing;
      await store.close();
      return { gen, head: k };
    },
  };
}

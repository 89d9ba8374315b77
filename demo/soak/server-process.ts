/**
 * One soak server node, in its own process: the reference server on 127.0.0.1 (port 0 the
 * first time, the same port again after a crash). Faults come over IPC.
 *
 * On its own memory (no Redis URL), its app appends every message it is handed to an
 * arrivals file with a synchronous write (it reaches the kernel, so it survives SIGKILL)
 * and it publishes a counter on `feed` at a steady rate. On `redisStore` (`--redis`), its
 * app applies each message in Redis atomically with the message's serial
 * (`redis-app.ts`) and the parent publishes the feed: one stream shared by every node
 * needs one publisher for its counter to be its seq.
 *
 * argv: port arrivalsFile heartbeatMs feedEveryMs [redisUrl prefix]
 */
import { randomBytes } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
import { redisStore } from '../../src/redis/index.js';
import {
  createServer,
  type Faults,
  type ServerErrorContext,
  type ServerMessage,
} from '../../src/server/index.js';
import type { FromServer, ToServer } from './protocol.js';
import { transactionalApp } from './redis-app.js';
import { ownStats, reportToParent } from './stats.js';

const [port, file, heartbeatMs, feedEveryMs, redisUrl, prefix] = process.argv.slice(2);
const send = (message: FromServer) => process.send?.(message);
reportToParent(send);

/**
 * Shorter than the store's default (5 s): a message whose process died is retried sooner,
 * and under load an app may outlast it, which the app's transaction must then absorb too.
 */
const LEASE_MS = 2000;

/** This process's generation: the feed's counter starts at 1 again in each one. */
const gen = randomBytes(4).toString('hex');
const onError = (error: unknown, context: ServerErrorContext) => {
  console.error(`soak server ${gen}: ${context.during}: ${String(error)}`);
};

/** The server on its own memory: arrivals to a file, and its own feed. */
function onMemory() {
  const arrivals = openSync(file as string, 'a');
  const server = createServer({
    heartbeatMs: Number(heartbeatMs),
    onMessage: ({ data, session, serial }: ServerMessage) => {
      const { c, n } = data as { c: number; n: number };
      writeSync(arrivals, `${c} ${n} ${serial ?? 0} ${session ?? '-'}\n`);
    },
    onError,
  });
  let k = 0;
  const feed = setInterval(() => server.publish('feed', { g: gen, k: ++k }), Number(feedEveryMs));
  const stopFeed = () => {
    // One last event, so the head is never 0: a process that just started (a crash
    // restart at the very end) has published nothing yet, and every client must reach it.
    clearInterval(feed);
    server.publish('feed', { g: gen, k: ++k });
    send({ type: 'feed-stopped', head: { gen, head: k } });
  };
  return { server, stopFeed };
}

/** The server on the shared Redis store, its app applying each message transactionally. */
async function onRedis(url: string) {
  const store = redisStore({
    url,
    prefix,
    leaseMs: LEASE_MS,
    onError: (error) => onError(error, { during: 'store' }),
  });
  const onMessage = await transactionalApp(url, gen);
  const server = createServer({ heartbeatMs: Number(heartbeatMs), store, onMessage, onError });
  return { server, stopFeed: undefined };
}

const { server, stopFeed } = redisUrl === undefined ? onMemory() : await onRedis(redisUrl);
const listening = await server.listen(Number(port));

async function inject(faults: Faults, name: Extract<ToServer, { type: 'fault' }>['name']) {
  if (name === 'dropAll') faults.dropAll();
  else if (name === 'forgetConnections') faults.forgetConnections();
  else if (name === 'failNextSends') faults.failNextSends(20, 503);
  else await faults.restart({ keepState: true });
}

process.on('message', async (message: ToServer) => {
  if (message.type === 'stop-feed') return stopFeed?.();
  await inject(server.faults, message.name);
  send({ type: 'fault-done', name: message.name });
});

const { port: bound } = new URL(listening.url);
send({
  type: 'listening',
  port: Number(bound),
  wsUrl: listening.wsUrl,
  sseUrl: listening.sseUrl,
  gen,
});
send(ownStats());

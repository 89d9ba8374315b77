/**
 * One soak server node, in its own process: the reference server on 127.0.0.1 (port 0 the
 * first time, the same port again after a crash), whose app appends every message it is
 * handed to an arrivals file with a synchronous write (it reaches the kernel, so it survives
 * SIGKILL) and publishes a counter on `feed` at a steady rate. Faults come over IPC.
 *
 * argv: port arrivalsFile heartbeatMs feedEveryMs
 */
import { randomBytes } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
import { createServer } from '../../src/server/index.js';
import type { FromServer, ToServer } from './protocol.js';
import { ownStats, reportToParent } from './stats.js';

const [port, file, heartbeatMs, feedEveryMs] = process.argv.slice(2);
const send = (message: FromServer) => process.send?.(message);
reportToParent(send);

/** This process's generation: the feed's counter starts at 1 again in each one. */
const gen = randomBytes(4).toString('hex');
const arrivals = openSync(file as string, 'a');

const server = createServer({
  heartbeatMs: Number(heartbeatMs),
  onMessage: ({ data, session, serial }) => {
    const { c, n } = data as { c: number; n: number };
    writeSync(arrivals, `${c} ${n} ${serial ?? 0} ${session ?? '-'}\n`);
  },
  onError: (error, context) => {
    console.error(`soak server ${gen}: ${context.during}: ${String(error)}`);
  },
});
const listening = await server.listen(Number(port));

let k = 0;
const feed = setInterval(() => server.publish('feed', { g: gen, k: ++k }), Number(feedEveryMs));

process.on('message', async (message: ToServer) => {
  if (message.type === 'stop-feed') {
    // One last event, so the head is never 0: a process that just started (a crash restart
    // at the very end) has published nothing yet, and every client must still reach it.
    clearInterval(feed);
    server.publish('feed', { g: gen, k: ++k });
    send({ type: 'feed-stopped', head: { gen, head: k } });
    return;
  }
  const { faults } = server;
  if (message.name === 'dropAll') faults.dropAll();
  else if (message.name === 'forgetConnections') faults.forgetConnections();
  else if (message.name === 'failNextSends') faults.failNextSends(20, 503);
  else await faults.restart({ keepState: true });
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

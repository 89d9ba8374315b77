/**
 * The cases of scale-out.md §3 against real parts: three reference-server processes on
 * `redisStore` sharing one Debian redis-server, behind Debian's haproxy, with clients
 * over both transports. Some clients go past haproxy to a chosen process, so a case can
 * say which process a link is on.
 *
 * C1 publish on one process, watch on another; C2 a link lost on A resumes on B with the
 * replay from its position; C3 a lost ack on A whose resend lands on B is a duplicate B's
 * app never sees; C4 a process SIGKILLed mid-run and started again; C5 Redis flushed:
 * every epoch changes and each client reports one `reset` per watched stream.
 */
import { EventSource } from 'eventsource';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Connection, type ConnectionOptions, createConnection } from '../../src/index.js';
import { sseTransport } from '../../src/sse.js';
import { webSocketTransport } from '../../src/websocket.js';
import { until } from '../integration/wire.js';
import { type Cluster, startCluster } from '../support/cluster.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';

let redis: RedisServer;
let cluster: Cluster;
const open = new Set<Connection>();

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster(3, { redis: { url: redis.url, prefix: 'hfc' } });
}, 60_000);
afterAll(async () => {
  for (const conn of open) conn.close();
  await cluster?.stop();
  await redis?.stop();
});

type Transport = ConnectionOptions['transport'];

const wsAt = (address: string | (() => string | Promise<string>)) =>
  webSocketTransport({
    url:
      typeof address === 'string' ? `ws://${address}/ws` : async () => `ws://${await address()}/ws`,
    WebSocket: WebSocket as never,
  });
const sseAt = (address: string) =>
  sseTransport({ url: `http://${address}/sse`, EventSource: EventSource as never });
const node = (index: number) => cluster.nodes[index]?.address as string;
const haproxy = () => cluster.url.slice('http://'.length);

interface Watcher {
  readonly conn: Connection;
  /** `stream:seq=data` per event, in the order the app got them. */
  readonly events: string[];
  /** Every error the connection reported, as `kind` or `kind:stream`. */
  readonly errors: string[];
}

function connect(transport: Transport, streams: readonly string[] = []): Watcher {
  const conn = createConnection({ transport, backoff: () => 50 });
  open.add(conn);
  const events: string[] = [];
  const errors: string[] = [];
  conn.on('message', (data, frame) =>
    events.push(`${frame.stream}:${frame.seq}=${JSON.stringify(data)}`),
  );
  conn.on('error', (error) =>
    errors.push(error.stream === undefined ? error.kind : `${error.kind}:${error.stream}`),
  );
  for (const stream of streams) conn.watch(stream);
  return { conn, events, errors };
}

const opened = (w: Watcher, what: string) =>
  until(() => w.conn.state === 'open', `${what} to open`, 10_000);

const expected = (stream: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${stream}:${from + i}=${from + i}`);

async function publishAll(on: number, stream: string, from: number, to: number) {
  for (let n = from; n <= to; n++) expect(await cluster.publish(on, stream, n)).toBe(n);
}

describe('three processes on one Redis, behind haproxy (scale-out.md §3)', () => {
  it('C1: what one process publishes reaches the links that watch it on the others, once each, in seq order, over both transports', async () => {
    const onTwo = connect(wsAt(node(1)), ['c1']);
    const onThree = connect(sseAt(node(2)), ['c1']);
    await opened(onTwo, 'the WebSocket on n2');
    await opened(onThree, 'the SSE link on n3');
    await publishAll(0, 'c1', 1, 20);
    const all = expected('c1', 1, 20);
    await until(() => onTwo.events.length >= 20 && onThree.events.length >= 20, '20 events each');
    expect(onTwo.events).toEqual(all);
    expect(onThree.events).toEqual(all);
    expect([...onTwo.errors, ...onThree.errors]).toEqual([]);
  });

  it('C2: a link lost on process A resumes on process B, which replays from its position: nothing missed, nothing twice', async () => {
    let links = 0;
    let letThrough: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      letThrough = resolve;
    });
    // The first link goes to n1; the next waits until events came while it was away, then
    // goes to n2.
    const w = connect(
      wsAt(async () => {
        links++;
        if (links === 1) return node(0);
        await gate;
        return node(1);
      }),
      ['c2'],
    );
    await opened(w, 'the first link, on n1');
    await publishAll(2, 'c2', 1, 5);
    await until(() => w.events.length >= 5, 'the first five events');
    cluster.dropAll(0);
    await until(() => links === 2, 'the client to open its next link');
    // Published while the client has no link: only a replay from Redis can bring them.
    await publishAll(2, 'c2', 6, 10);
    letThrough();
    await until(() => w.events.length >= 10, 'events 6–10 replayed on n2');
    await publishAll(0, 'c2', 11, 12);
    await until(() => w.events.length >= 12, 'the live events after the replay');
    expect(w.events).toEqual(expected('c2', 1, 12));
    expect(w.errors.filter((e) => e !== 'link')).toEqual([]);
    expect(links).toBe(2);
  });

  it("C3: a lost ack on process A whose resend lands on process B is a duplicate: B confirms it and B's app never sees it", async () => {
    let links = 0;
    const w = connect(
      wsAt(() => {
        links++;
        return links === 1 ? node(0) : node(1);
      }),
    );
    await opened(w, 'the first link, on n1');
    // n1's app takes it, then drops the link before the ack can leave: the client resends
    // on its next link, which is on n2.
    await w.conn.send({ dropLink: true }, { id: 'c3-lost-ack' });
    await w.conn.send({ after: true }, { id: 'c3-after' });
    const lost = cluster.handed.filter((h) => h.id === 'c3-lost-ack');
    expect(lost.map((h) => h.node)).toEqual(['n1']);
    // The next message was taken on n2: the resend was answered there, as a duplicate.
    expect(cluster.handed.filter((h) => h.id === 'c3-after').map((h) => h.node)).toEqual(['n2']);
    expect(lost[0]?.serial).toBe(1);
    expect(links).toBe(2);
  });

  it('C4: a process SIGKILLed mid-run and started again: every message confirmed, each handed once (again only inside the lease of the process killed), in order; watchers miss nothing', async () => {
    const clients = [0, 1, 2, 3].map((i) =>
      connect(i % 2 === 0 ? wsAt(haproxy()) : sseAt(haproxy()), ['c4']),
    );
    for (const [i, c] of clients.entries()) await opened(c, `client ${i}`);
    const sends: Promise<unknown>[] = [];
    let published = 0;
    const publishing = (async () => {
      // From n3, which is never killed: the feed goes on through the whole case.
      while (published < 40) {
        await cluster.publish(2, 'c4', ++published);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    const sendRound = (round: number) => {
      for (const [i, c] of clients.entries())
        sends.push(c.conn.send({ c: i, n: round }, { id: `c4-${i}-${round}` }));
    };
    for (let round = 0; round < 20; round++) {
      sendRound(round);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await cluster.kill(0);
    for (let round = 20; round < 40; round++) {
      sendRound(round);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await cluster.restart(0);
    for (let round = 40; round < 60; round++) {
      sendRound(round);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(sends);
    await publishing;

    const arrivals = cluster.arrivals().filter((a) => a.id.startsWith('c4-'));
    for (const [i] of clients.entries()) {
      const mine = arrivals.filter((a) => a.id.startsWith(`c4-${i}-`));
      const firsts = [...new Map(mine.map((a) => [a.id, a])).keys()];
      // Every message reached an app, in the order it was sent.
      expect(firsts).toEqual(Array.from({ length: 60 }, (_, n) => `c4-${i}-${n}`));
      // A second hand-over only of a message whose first was on the process killed
      // (its lease had to run out: the crash window docs/scale-out.md states).
      const seen = new Map<string, number>();
      for (const a of mine) {
        const before = seen.get(a.id) ?? 0;
        if (before > 0)
          expect(mine.find((first) => first.id === a.id)?.node, `${a.id} handed twice`).toBe('n1');
        seen.set(a.id, before + 1);
      }
    }
    const all = expected('c4', 1, 40);
    await until(() => clients.every((c) => c.events.length >= 40), 'every event to every watcher');
    for (const c of clients) {
      expect(c.events).toEqual(all);
      expect(c.errors.filter((e) => e !== 'link' && e !== 'stale')).toEqual([]);
    }
  }, 60_000);

  it('C5: Redis flushed: every epoch changes, each client reports one reset per watched stream and then gets the new log from seq 1; nothing else is lost', async () => {
    const clients = [0, 1, 2].map((i) =>
      connect(i === 1 ? sseAt(haproxy()) : wsAt(haproxy()), ['c5a', 'c5b']),
    );
    for (const [i, c] of clients.entries()) await opened(c, `client ${i}`);
    await publishAll(0, 'c5a', 1, 3);
    await publishAll(1, 'c5b', 1, 3);
    await until(() => clients.every((c) => c.events.length >= 6), 'the first six events');
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await admin.flushAll();
    } finally {
      await admin.close();
    }
    // The first events of the new logs: seq 1 of new epochs.
    expect(await cluster.publish(2, 'c5a', 'new-a')).toBe(1);
    expect(await cluster.publish(0, 'c5b', 'new-b')).toBe(1);
    await until(
      () => clients.every((c) => c.events.length >= 8),
      'the new logs to reach every client',
      10_000,
    );
    for (const c of clients) {
      expect(c.errors.filter((e) => e.startsWith('reset')).sort()).toEqual([
        'reset:c5a',
        'reset:c5b',
      ]);
      expect(c.events.slice(0, 6).sort()).toEqual([
        ...expected('c5a', 1, 3),
        ...expected('c5b', 1, 3),
      ]);
      expect(c.events.slice(6).sort()).toEqual(['c5a:1="new-a"', 'c5b:1="new-b"']);
      expect(c.errors.filter((e) => !e.startsWith('reset') && e !== 'link')).toEqual([]);
    }
    // Sessions went with the flush; a new message is taken as new, once.
    await clients[0]?.conn.send({ after: 'flush' }, { id: 'c5-after' });
    expect(cluster.handed.filter((h) => h.id === 'c5-after')).toHaveLength(1);
  }, 60_000);
});

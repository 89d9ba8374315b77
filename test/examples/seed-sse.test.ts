/**
 * The worked example of docs/transports.md: holdfast over the seed app's own SSE + POST
 * wire (examples/seed-sse), a real server on 127.0.0.1 and the `eventsource` package's
 * client. Each test is a rule of the transport contract, or a race the seed app shipped
 * (the seed app's PR 390 and PR 406), played over real sockets.
 */
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { createSeedServer, type SeedServerOptions } from '../../examples/seed-sse/server.js';
import { seedTransport } from '../../examples/seed-sse/transport.js';
import type { EventSourceLike, FetchLike } from '../../examples/seed-sse/web.js';
import {
  type ConnectionOptions,
  createConnection,
  type Link,
  type Transport,
} from '../../src/index.js';
import { until } from '../integration/wire.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  server?: SeedServerOptions;
  connection?: Partial<ConnectionOptions>;
  fetch?: FetchLike;
  EventSource?: new (url: string) => EventSourceLike;
  /** Wrap the transport (a spy, another window). */
  wrap?: (transport: Transport) => Transport;
}

/** A seed server and a connection to it over the example transport, both closed after. */
async function start(setup: Setup = {}) {
  const server = createSeedServer({ heartbeatMs: 50, ...setup.server });
  const { url, close } = await server.listen();
  cleanups.push(close);
  const transport = seedTransport({
    url,
    EventSource: setup.EventSource ?? EventSource,
    ...(setup.fetch ? { fetch: setup.fetch } : {}),
  });
  const conn = createConnection({
    transport: setup.wrap ? setup.wrap(transport) : transport,
    backoff: () => 5,
    ...setup.connection,
  });
  cleanups.push(() => conn.close());
  const errors: Array<[string, number | undefined]> = [];
  conn.on('error', (error) => errors.push([error.kind, error.status]));
  const received = () => server.seen.received.map((m) => m.id);
  const answered = (path: string) => server.seen.answered.filter((a) => a.path === path);
  return { server, conn, errors, received, answered };
}

/** A fetch that holds the first `POST /send` until `release()`, and names every one posted. */
function holdFirstSend() {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const posted: string[] = [];
  const fetchFn: FetchLike = async (url, init) => {
    if (url.endsWith('/send')) {
      posted.push(JSON.parse(init.body).id);
      if (posted.length === 1) await gate;
    }
    return fetch(url, init);
  };
  return { fetch: fetchFn, posted, release: () => release() };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i + 1}`);

describe('examples/seed-sse: a transport for an existing SSE + POST backend', () => {
  it('delivers every message once, in order, across a 503, a 404, a dropped stream and a lost answer', async () => {
    const faults: Record<string, () => void> = {};
    const { server, conn, errors, received } = await start({
      server: { onMessage: ({ id }) => faults[id]?.() },
    });
    faults.m5 = () => server.faults.failNextSends(2, 503);
    faults.m10 = () => server.faults.forgetConnections();
    faults.m15 = () => server.faults.dropStreams();
    faults.m20 = () => server.faults.loseNextAnswers(1);
    await until(() => conn.state === 'open', 'open');
    await Promise.all(ids(30).map((id) => conn.send(id, { id })));
    expect(received()).toEqual(ids(30));
    expect(errors).toEqual([
      ['link', 503],
      ['link', 503],
      ['stale', 404],
      ['link', undefined],
      ['link', undefined],
    ]);
    expect(server.seen.streamsOpened).toHaveLength(6);
  });

  it('resume replays on the new link what came while the stream was down', async () => {
    const { server, conn, answered } = await start();
    const got: Array<[string | undefined, number | undefined, unknown]> = [];
    conn.on('message', (data, frame) => got.push([frame.stream, frame.seq, data]));
    conn.watch('chat');
    await until(() => conn.state === 'open', 'open');
    server.publish('chat', 'a');
    server.publish('chat', 'b');
    await until(() => got.length === 2, 'the live events');
    server.faults.dropStreams();
    // No stream follows `chat` now: only the next link's replay can bring these.
    server.publish('chat', 'c');
    server.publish('chat', 'd');
    await until(() => got.length === 4, 'the replay');
    expect(got).toEqual([
      ['chat', 1, 'a'],
      ['chat', 2, 'b'],
      ['chat', 3, 'c'],
      ['chat', 4, 'd'],
    ]);
    expect(answered('/reconnect').map((a) => a.body.sessions)).toEqual([
      [{ sessionId: 'chat', lastSeq: 0 }],
      [{ sessionId: 'chat', lastSeq: 2 }],
    ]);
    expect(conn.positions()).toEqual([{ stream: 'chat', seq: 4 }]);
  });

  it('resume() waits for the replay on the event stream, not only for the 200', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = 0;
    // The `replayed` event is held back; everything else passes as it comes.
    class HeldReplay implements EventSourceLike {
      private readonly inner: EventSource;
      constructor(url: string) {
        this.inner = new EventSource(url);
      }
      addEventListener(type: string, listener: (event: { data?: unknown }) => void) {
        this.inner.addEventListener(type, (event) => {
          if (type !== 'replayed') return listener(event);
          held++;
          void gate.then(() => listener(event));
        });
      }
      close() {
        this.inner.close();
      }
    }
    let answerRead = false;
    const fetchFn: FetchLike = async (url, init) => {
      const answer = await fetch(url, init);
      if (!url.endsWith('/reconnect')) return answer;
      const text = await answer.text();
      return {
        status: answer.status,
        headers: answer.headers,
        text: async () => {
          answerRead = true;
          return text;
        },
      };
    };
    const { server, conn } = await start({ EventSource: HeldReplay, fetch: fetchFn });
    server.publish('chat', 'a');
    const seen: string[] = [];
    conn.on('message', (data) => seen.push(`message ${data}`));
    conn.on('state', (to) => seen.push(to));
    conn.watch('chat');
    await until(() => answerRead && held === 1, 'the 200 read and the replayed event held');
    expect(conn.state).toBe('connecting');
    release();
    await until(() => conn.state === 'open', 'open');
    // The replayed event first; flushing (nothing queued) and open in one step, after it.
    expect(seen).toEqual(['message a', 'open']);
  });

  it('maxInFlight 1: the next message is not posted while one is unanswered', async () => {
    const held = holdFirstSend();
    const { conn, received } = await start({ fetch: held.fetch });
    await until(() => conn.state === 'open', 'open');
    const sends = ids(4).map((id) => conn.send(id, { id }));
    // The machine hands a link its whole window in one synchronous batch: had the window
    // been larger, all four would be posted by the time the first is.
    await until(() => held.posted.length > 0, 'the first POST');
    expect(held.posted).toEqual(['m1']);
    held.release();
    await Promise.all(sends);
    expect(received()).toEqual(ids(4));
    expect(held.posted).toEqual(ids(4));
  });

  it('the same POSTs with maxInFlight 8 reorder: the server handles m2–m4 before a slow m1', async () => {
    const held = holdFirstSend();
    const { conn, received } = await start({
      fetch: held.fetch,
      wrap: (transport) => ({ ...transport, maxInFlight: 8 }),
    });
    await until(() => conn.state === 'open', 'open');
    const sends = ids(4).map((id) => conn.send(id, { id }));
    await until(() => received().length === 3, 'three handled');
    held.release();
    await Promise.all(sends);
    // Every send "succeeded", and the server has them out of order: why the example says 1.
    expect(received()).toEqual(['m2', 'm3', 'm4', 'm1']);
  });

  it('suspend then close: the suspend notice still reaches the server', async () => {
    const { server, conn, answered } = await start();
    const got: unknown[] = [];
    conn.on('message', (data) => got.push(data));
    conn.watch('chat');
    await until(() => conn.state === 'open', 'open');
    server.publish('chat', 'a');
    await until(() => got.length === 1, 'the event');
    // The machine calls suspend() and then close() on the link in the same tick: a close()
    // that aborted every request would cancel this POST before it left.
    conn.suspend();
    await until(() => answered('/suspend').length === 1, 'the suspend notice');
    const [link] = answered('/reconnect');
    expect(answered('/suspend')[0]).toMatchObject({
      status: 204,
      body: {
        connectionId: link?.body.connectionId,
        sessions: [{ sessionId: 'chat', lastSeq: 1 }],
      },
    });
    expect(conn.state).toBe('suspended');
  });

  it('a retry: false notice answered 404 is dropped, not re-queued; the next message goes through', async () => {
    const { server, conn, errors, received, answered } = await start();
    await until(() => conn.state === 'open', 'open');
    server.faults.forgetConnections();
    await expect(conn.send({ typing: true }, { id: 'typing', retry: false })).rejects.toMatchObject(
      { reason: 'not-retried' },
    );
    await conn.send('after', { id: 'after' });
    expect(answered('/send').map((a) => [a.body.id, a.status])).toEqual([
      ['typing', 404],
      ['after', 200],
    ]);
    expect(received()).toEqual(['after']);
    expect(errors).toEqual([['stale', 404]]);
  });

  it('a message the server refuses (422) is rejected with its reason; the link stays', async () => {
    const { conn, errors, received, server } = await start({
      server: {
        onMessage: ({ payload }) => {
          if (payload === 'bad') throw new Error('not allowed');
        },
      },
    });
    await until(() => conn.state === 'open', 'open');
    const refused = conn.send('bad', { id: 'bad' });
    await expect(refused).rejects.toMatchObject({ reason: 'rejected' });
    await expect(refused).rejects.toThrow(/HTTP 422.*not allowed/);
    await conn.send('good', { id: 'good' });
    expect(received()).toEqual(['good']);
    expect(errors).toEqual([]);
    expect(server.seen.streamsOpened).toHaveLength(1);
  });

  it('a 503 with Retry-After holds the next link back that long (retry); a 404 is stale', async () => {
    const { server, conn, errors, received, answered } = await start();
    await until(() => conn.state === 'open', 'open');
    server.faults.failNextSends(1, 503, 1);
    await conn.send('x', { id: 'x' });
    const failedAt = answered('/send')[0]?.at ?? Number.NaN;
    const reopenedAt = server.seen.streamsOpened[1] ?? Number.NaN;
    expect(reopenedAt - failedAt).toBeGreaterThanOrEqual(1000);
    server.faults.forgetConnections();
    await conn.send('y', { id: 'y' });
    expect(errors).toEqual([
      ['link', 503],
      ['stale', 404],
    ]);
    expect(received()).toEqual(['x', 'y']);
  });

  it('a notice without a seq reaches the app without a stream and moves no position', async () => {
    const { server, conn, errors } = await start();
    const got: Array<{ data: unknown; frame: object }> = [];
    conn.on('message', (data, frame) => got.push({ data, frame }));
    conn.watch('chat');
    await until(() => conn.state === 'open', 'open');
    server.publish('chat', 'a');
    server.notify('bob is typing', 'chat');
    await until(() => got.length === 2, 'the event and the notice');
    const notice = { sessionId: 'chat', text: 'bob is typing' };
    expect(got[1]).toEqual({ data: notice, frame: { data: notice } });
    expect(Object.keys(got[1]?.frame ?? {})).toEqual(['data']);
    expect(conn.positions()).toEqual([{ stream: 'chat', seq: 1 }]);
    expect(errors).toEqual([]);
  });

  it('comment heartbeats never reach EventSource listeners: an idle link is called silent', async () => {
    const { server, conn, errors } = await start({
      server: { heartbeat: 'comment', heartbeatMs: 20 },
      connection: { heartbeatTimeoutMs: 400 },
    });
    await until(() => conn.state === 'open', 'open');
    await until(() => errors.length > 0, 'the silence timeout', 5000);
    expect(errors[0]).toEqual(['timeout', undefined]);
    // The server was not silent: it wrote its comments the whole time.
    expect(server.seen.heartbeats).toBeGreaterThan(0);
  }, 15_000);

  it('named heartbeat events keep an idle link open past its silence timeout', async () => {
    const { server, conn, errors } = await start({
      server: { heartbeat: 'event', heartbeatMs: 20 },
      connection: { heartbeatTimeoutMs: 400 },
    });
    await until(() => conn.state === 'open', 'open');
    const from = server.seen.heartbeats;
    // 60 beats of 20 ms: three times the silence the client allows.
    await until(() => server.seen.heartbeats >= from + 60, 'sixty heartbeats', 10_000);
    expect(errors).toEqual([]);
    expect(conn.state).toBe('open');
    expect(server.seen.streamsOpened).toHaveLength(1);
  }, 15_000);
});

describe("examples/seed-sse: the seed app's races", () => {
  it('PR 406: a send answered 404 while the forgotten stream looks alive is resent on one new link', async () => {
    const { server, conn, errors, received } = await start();
    await until(() => conn.state === 'open', 'open');
    // The server dropped the connection; its stream stays open and keeps beating.
    server.faults.forgetConnections();
    await Promise.all(['wake', 'w2', 'w3'].map((id) => conn.send(id, { id })));
    expect(received()).toEqual(['wake', 'w2', 'w3']);
    expect(errors).toEqual([['stale', 404]]);
    // One reconnect for the lot, not one per send that met the 404.
    expect(server.seen.streamsOpened).toHaveLength(2);
  });

  it('PR 406 review: a suspend notice answered 404 is not sent again', async () => {
    const { server, conn, answered } = await start();
    await until(() => conn.state === 'open', 'open');
    server.faults.forgetConnections();
    conn.suspend();
    await until(() => answered('/suspend').length === 1, 'the suspend notice');
    expect(answered('/suspend')[0]?.status).toBe(404);
    conn.resume();
    await until(() => conn.state === 'open', 'open again');
    await conn.send('after', { id: 'after' });
    expect(answered('/suspend')).toHaveLength(1);
  });

  it('PR 390: sends made while reconnecting go out only after the reconnect, in order', async () => {
    let releaseReplay: (() => void) | undefined;
    let holdReplays = false;
    // Every call the machine makes on each link, in order.
    const calls: string[][] = [];
    const spy = (transport: Transport): Transport => ({
      ...transport,
      connect(events, options) {
        const log: string[] = [];
        calls.push(log);
        const link = transport.connect(events, options);
        const wrapped: Link = {
          resume: (positions) => {
            log.push('resume');
            return link.resume(positions).then(() => void log.push('resumed'));
          },
          send: (message) => {
            log.push(`send ${message.id}`);
            return link.send(message);
          },
          close: () => link.close(),
        };
        return wrapped;
      },
    });
    const { server, conn, received, answered } = await start({
      wrap: spy,
      server: {
        beforeReplay: () =>
          holdReplays
            ? new Promise<void>((resolve) => {
                releaseReplay = resolve;
              })
            : undefined,
      },
    });
    conn.watch('chat');
    await until(() => conn.state === 'open', 'open');
    holdReplays = true;
    server.faults.dropStreams();
    await until(() => releaseReplay !== undefined, "the new link's reconnect, held");
    expect(conn.state).toBe('reconnecting');
    const sends = [conn.send('a', { id: 'a' }), conn.send('b', { id: 'b' })];
    // The seed fired `open` before its flush: a send made at the first usable moment
    // overtook the queue. Here the first usable moment is `flushing`, behind the queue.
    conn.on('state', (to) => {
      if (to === 'flushing') sends.push(conn.send('c', { id: 'c' }));
    });
    releaseReplay?.();
    await until(() => received().length === 3, 'three handled');
    await Promise.all(sends);
    expect(received()).toEqual(['a', 'b', 'c']);
    expect(calls[1]).toEqual(['resume', 'resumed', 'send a', 'send b', 'send c']);
    const second = answered('/reconnect')[1]?.body.connectionId;
    const onSecond = server.seen.answered.filter((a) => a.body.connectionId === second);
    expect(onSecond.map((a) => `${a.path} ${a.body.id ?? ''}`.trim())).toEqual([
      '/reconnect',
      '/send a',
      '/send b',
      '/send c',
    ]);
  });
});

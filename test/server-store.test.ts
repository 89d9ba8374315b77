/**
 * The reference server on a store that answers later (scale-out.md §2), over both wires,
 * with a store of the tests' own (`SlowStore`: the memory store, every answer on a later
 * turn, with knobs): sessions taken once each through claim and commit, a busy session
 * answered `retry`, a store that fails never costing a message or the process, a resume
 * read in pages with the live events that came meanwhile after it, and a link that would
 * get a seq out of turn dropped.
 */
import { describe, expect, it } from 'vitest';
import type { ServerErrorContext } from '../src/server/index.js';
import { MAX_HELD } from '../src/server/watchers.js';
import { until } from './integration/wire.js';
import { ended, open, sessionId, startServer, v2, WIRES } from './support/server-wire.js';
import { SlowStore } from './support/slow-store.js';

async function serve(store = new SlowStore()) {
  const errors: Array<{ during: ServerErrorContext['during']; message: string }> = [];
  const started = await startServer({
    store,
    onError: (error, context) => errors.push({ during: context.during, message: String(error) }),
  });
  return { ...started, store, errors };
}

const msg = (serial: number, data: unknown = serial) => ({ id: `m${serial}`, serial, data });

describe.each(WIRES)('%s on a store that answers later', (wire) => {
  it('store: a session’s messages are handed to the app once each, in order, and the next welcome says what the store holds', async () => {
    const { listening, handed } = await serve();
    const session = sessionId('slow-1');
    const first = await open(wire, listening, v2(session));
    expect(first.welcome.session).toEqual({ known: false, handled: 0 });
    expect(await first.send([msg(1), msg(2), msg(3)])).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'ok' },
    ]);
    // A resend of 2 and 3 (their acks lost) and then 4: only 4 is new.
    expect(await first.send([msg(2), msg(3), msg(4)])).toHaveLength(3);
    expect(handed.map((h) => h.message.serial)).toEqual([1, 2, 3, 4]);
    const second = await open(wire, listening, v2(session));
    expect(second.welcome.session).toEqual({ known: true, handled: 4 });
  });

  it('store: a claim that finds the session busy on another process is answered retry (WebSocket close 1013, SSE 503), and nothing after it on the link is taken', async () => {
    const { listening, handed, store } = await serve();
    const session = sessionId('slow-busy');
    const client = await open(wire, listening, v2(session));
    store.busy = 1;
    const answer = client.send([msg(1), msg(2)]).catch(() => 'no verdict');
    if (wire === 'sse') {
      expect(await answer).toBe(503);
    } else {
      await ended(client, 'the socket to close');
      expect(client.closed()?.code).toBe(1013);
    }
    expect(handed).toEqual([]);
    // Sent again (on a new link for the WebSocket): taken now, once each.
    const again = wire === 'sse' ? client : await open(wire, listening, v2(session));
    expect(await again.send([msg(1), msg(2)])).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(handed.map((h) => h.message.serial)).toEqual([1, 2]);
  });

  it('store: a store that fails costs no message and no process: the welcome, a claim and a resume are answered as passing failures and reported during store', async () => {
    const { listening, handed, store, errors } = await serve();
    const session = sessionId('slow-fail');
    store.failing.add('session');
    const refused = await open(wire, listening, v2(session));
    if (wire === 'sse') expect(refused.closed()?.status).toBe(503);
    else {
      await ended(refused, 'the socket to close');
      expect(refused.closed()?.code).toBe(1013);
    }
    store.failing.clear();
    const client = await open(wire, listening, v2(session));
    store.failing.add('claim');
    const answer = client.send([msg(1)]).catch(() => 'no verdict');
    if (wire === 'sse') expect(await answer).toBe(503);
    else await ended(client, 'the socket to close');
    store.failing.clear();
    store.failing.add('head');
    const resuming = await open(wire, listening, v2(session));
    const resumed = await resuming.resume([{ stream: 'feed', seq: 0 }]);
    expect(resumed).toEqual(wire === 'sse' ? 500 : expect.objectContaining({ code: 1011 }));
    store.failing.clear();
    const last = await open(wire, listening, v2(session));
    expect(await last.send([msg(1)])).toEqual([{ status: 'ok' }]);
    expect(handed.map((h) => h.message.serial)).toEqual([1]);
    expect(errors.map((e) => e.during)).toEqual(['store', 'store', 'store']);
    expect(errors.map((e) => e.message)).toEqual([
      "Error: the store's session failed",
      "Error: the store's claim failed",
      "Error: the store's head failed",
    ]);
  });

  it('store: a resume reads the backlog in pages up to the head, then the events published meanwhile, each once, in seq order', async () => {
    const { listening, server, store } = await serve();
    for (let n = 1; n <= 2500; n++) await server.publish('feed', n);
    let published = false;
    store.beforePage = async () => {
      // While the first page is read, five more are published and heard live.
      if (published) return;
      published = true;
      for (let n = 2501; n <= 2505; n++) await server.publish('feed', n);
    };
    const client = await open(wire, listening, v2(sessionId('slow-pages')));
    expect(await client.resume([{ stream: 'feed', seq: 0 }])).toBe('resumed');
    await until(() => client.frames().length >= 2506, 'every event', 10_000);
    const [head, ...events] = client.frames();
    expect(head).toMatchObject({ type: 'stream', stream: 'feed', head: 2500 });
    expect(events.map((e) => (e.type === 'event' ? e.seq : -1))).toEqual(
      Array.from({ length: 2505 }, (_, i) => i + 1),
    );
    // Three pages up to the head (1,000 each), none past it: the rest came live.
    // (A raw SSE client also reads streams of its own to sync.)
    expect(store.pages.filter((p) => p.startsWith('feed:'))).toEqual([
      'feed:0',
      'feed:1000',
      'feed:2000',
    ]);
  });

  it('store: a link that would get a seq out of turn (the store missed a live event) is dropped, and its resume brings what it missed', async () => {
    const { listening, server, store } = await serve();
    const session = sessionId('slow-miss');
    const client = await open(wire, listening, v2(session));
    await client.resume([{ stream: 'feed', seq: 0 }]);
    await server.publish('feed', 1);
    await until(() => client.frames().length >= 2, 'the first event');
    store.miss = 1;
    await server.publish('feed', 2);
    await server.publish('feed', 3);
    await ended(client, 'the link that missed seq 2 to be dropped');
    expect(client.frames().filter((f) => f.type === 'event')).toHaveLength(1);
    const again = await open(wire, listening, v2(session));
    const { epoch } = client.frames()[0] as { epoch: string };
    await again.resume([{ stream: 'feed', seq: 1, epoch }]);
    await until(() => again.frames().length >= 3, 'the replay');
    expect(again.frames().map((f) => (f.type === 'event' ? f.seq : f.type))).toEqual([
      'stream',
      2,
      3,
    ]);
  });

  it('store: a store that lost live events (its subscription dropped) drops every link watching the stream, and their resume brings what they missed', async () => {
    const { listening, server, store } = await serve();
    const session = sessionId('slow-lost');
    const client = await open(wire, listening, v2(session));
    await client.resume([{ stream: 'feed', seq: 0 }]);
    const other = await open(wire, listening, v2(sessionId('slow-other')));
    await other.resume([{ stream: 'other', seq: 0 }]);
    await server.publish('feed', 1);
    await until(() => client.frames().length >= 2, 'the first event');
    store.miss = 1;
    await server.publish('feed', 2);
    store.loseAll();
    await ended(client, 'the link watching feed to be dropped');
    const { epoch } = client.frames()[0] as { epoch: string };
    const again = await open(wire, listening, v2(session));
    await again.resume([{ stream: 'feed', seq: 1, epoch }]);
    await until(() => again.frames().length >= 2, 'the replay');
    expect(again.frames().map((f) => (f.type === 'event' ? f.seq : f.type))).toEqual(['stream', 2]);
    // The whole subscription dropped: the link watching another stream resumes too.
    await ended(other, 'the link watching other to be dropped');
  });

  it('store: a link whose backlog is still being written when more than MAX_HELD live events come is dropped, not grown without bound', async () => {
    const { listening, server, store } = await serve();
    await server.publish('feed', 0);
    let burst = false;
    store.beforePage = async () => {
      if (burst) return;
      burst = true;
      await Promise.all(Array.from({ length: MAX_HELD + 1 }, (_, n) => server.publish('feed', n)));
    };
    const client = await open(wire, listening, v2(sessionId('slow-burst')));
    const answer = client.resume([{ stream: 'feed', seq: 0 }]).catch(() => 'no answer');
    await ended(client, 'the link that held too much to be dropped');
    await answer;
    expect(client.frames().filter((f) => f.type === 'event').length).toBeLessThanOrEqual(1);
  }, 20_000);
});

/**
 * The memory server speaks protocol v2 as the reference server does (spec sessions.md
 * §3, §5, §6, §8): a link opened with `{ session }` is greeted with what the server
 * remembers of it, each serial of a session reaches the app once, refusals are
 * remembered, logs have epochs and `stream` frames, unwatch stops a stream, and the
 * faults the simulation needs (restart without state, forget sessions, a log that starts
 * over). A link opened without a session is v1, as in `memory.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryServer, type MemoryServerOptions } from '../adapters/memory.js';
import type { LinkEvents, LinkOptions, OutboundMessage } from '../adapters/transport.js';
import { settle } from './support/settle.js';

const S = 'session-one-0123456789';

const message = (id: string, serial: number, data: unknown = id): OutboundMessage => ({
  id,
  serial,
  data,
  json: JSON.stringify(data),
  retry: true,
});

/** A link to a fresh memory server, recording everything it reports. */
/** `session` null: a v1 link, opened without `LinkOptions`. */
async function linked(options: MemoryServerOptions = {}, session: string | null = S) {
  const server = createMemoryServer({ heartbeatMs: 0, record: true, ...options });
  return { server, ...(await connect(server, session)) };
}

async function connect(server: ReturnType<typeof createMemoryServer>, session: string | null = S) {
  const options: LinkOptions | undefined = session === null ? undefined : { session };
  const seen: unknown[] = [];
  const events: LinkEvents = {
    open: (...welcome) => seen.push(['open', ...welcome]),
    message: (frame) => seen.push(['event', frame.stream, frame.seq, frame.data]),
    alive: () => seen.push(['alive']),
    stream: (head) => seen.push(['stream', head.stream, head.epoch, head.head]),
    close: (info) => seen.push(['close', info.code, info.reason]),
  };
  const link = server.transport().connect(events, options);
  await settle();
  return { link, seen };
}

describe('memory server, sessions', () => {
  it('greets a link opened with a session with { session: { known, handled } } (and heartbeatMs when it pings); a v1 link with nothing', async () => {
    const { server, seen } = await linked();
    expect(seen).toEqual([['open', { session: { known: false, handled: 0 } }]]);
    await (await connect(server)).link.send(message('a', 3));
    expect((await connect(server)).seen).toEqual([
      ['open', { session: { known: true, handled: 3 } }],
    ]);
    expect((await connect(server, null)).seen).toEqual([['open']]);
    const beating = createMemoryServer({ heartbeatMs: 500 });
    const greeted = await connect(beating);
    expect(greeted.seen).toEqual([
      ['open', { heartbeatMs: 500, session: { known: false, handled: 0 } }],
    ]);
    greeted.link.close();
  });

  it('a held link is greeted with what the server remembers when it is accepted', async () => {
    const server = createMemoryServer({ heartbeatMs: 0, behaviour: { connect: 'hold' } });
    const { seen } = await connect(server);
    server.behave({ connect: 'accept' });
    await (await connect(server)).link.send(message('a', 1));
    server.links[0]?.accept();
    await settle();
    expect(seen).toEqual([['open', { session: { known: true, handled: 1 } }]]);
  });

  it('refuses a link whose session id is not of the protocol’s shape (close 1008, naming the limit)', async () => {
    const { seen, server } = await linked({}, 'short');
    expect(seen).toEqual([
      ['close', 1008, expect.stringMatching(/session ids must be 16–128 characters/)],
    ]);
    expect(server.live).toEqual([]);
  });

  it('a duplicate serial never reaches onMessage twice; onMessage sees the link’s session; receivedBy records per session', async () => {
    const handed: Array<[string | undefined, number]> = [];
    const { server, link } = await linked({
      onMessage: (m, l) => handed.push([l.session, m.serial]),
    });
    expect(await link.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(await link.send(message('b', 2))).toEqual({ status: 'ok' });
    const again = await connect(server);
    for (const m of [message('a', 1), message('b', 2), message('c', 3)])
      expect(await again.link.send(m)).toEqual({ status: 'ok' });
    expect(handed).toEqual([
      [S, 1],
      [S, 2],
      [S, 3],
    ]);
    expect(server.receivedBy(S).map((m) => m.id)).toEqual(['a', 'b', 'c']);
    expect(server.receivedBy('session-other-0123456789')).toEqual([]);
    expect(server.session(S)).toEqual({ known: true, handled: 3 });
  });

  it('a refusal (steered rejected) is taken and remembered: its duplicate gets the same refusal even when the steering now says ok', async () => {
    const refusal = { status: 'rejected', error: 'no' } as const;
    const { server, link } = await linked({
      behaviour: { send: (m) => (m.id === 'bad' ? refusal : 'ok') },
    });
    expect(await link.send(message('bad', 1))).toBe(refusal);
    server.behave({ send: 'ok' });
    const again = await connect(server);
    expect(await again.link.send(message('bad', 1))).toBe(refusal);
    expect(server.session(S)).toEqual({ known: true, handled: 1 });
    expect(server.received).toEqual([]);
  });

  it('a failed send (stale, retry) takes nothing: the resend is handed over', async () => {
    const { server, link } = await linked({ behaviour: { send: 'retry' } });
    expect(await link.send(message('a', 1))).toEqual({ status: 'retry' });
    server.behave({ send: 'ok' });
    expect(await (await connect(server)).link.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(server.received.map((m) => m.id)).toEqual(['a']);
  });

  it('handleWithoutReply takes the serial: the resend on the next link is a duplicate', async () => {
    const { server, link } = await linked({ behaviour: { send: 'hold' } });
    const sent = link.send(message('a', 1));
    server.current?.pendingSends[0]?.handleWithoutReply();
    server.current?.drop();
    expect(await sent).toEqual({ status: 'stale' });
    server.behave({ send: 'ok' });
    expect(await (await connect(server)).link.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(server.received.map((m) => m.id)).toEqual(['a']);
  });

  it('a serial that is not a safe integer ≥ 1 is rejected, naming it', async () => {
    const { link, server } = await linked();
    const outcome = await link.send(message('a', 0));
    expect(outcome).toMatchObject({ status: 'rejected' });
    expect(String((outcome as { error: Error }).error.message)).toMatch(/safe integer ≥ 1/);
    expect(server.received).toEqual([]);
  });

  it('a v1 link (no session) deduplicates by id and ignores serials', async () => {
    const { link, server } = await linked({}, null);
    await link.send(message('a', 1));
    await link.send(message('a', 2));
    await link.send(message('b', 1));
    expect(server.received.map((m) => m.id)).toEqual(['a', 'b']);
  });

  it('sessionTtlMs (by its now) and maxSessions forget sessions: known: false, serials handed again', async () => {
    let now = 0;
    const server = createMemoryServer({
      heartbeatMs: 0,
      record: true,
      sessionTtlMs: 100,
      maxSessions: 2,
      now: () => now,
    });
    const sessions = ['session-a-0123456789', 'session-b-0123456789', 'session-c-0123456789'];
    for (const session of sessions.slice(0, 2))
      await (await connect(server, session)).link.send(message('m', 1));
    expect(sessions.map((s) => server.session(s).known)).toEqual([true, true, false]);
    await (await connect(server, sessions[2] as string)).link.send(message('m', 1));
    expect(sessions.map((s) => server.session(s).known)).toEqual([false, true, true]);
    now = 100;
    expect(sessions.map((s) => server.session(s).known)).toEqual([false, false, false]);
    await (await connect(server, sessions[1] as string)).link.send(message('m', 1));
    expect(server.received).toHaveLength(4);
  });
});

describe('memory server, epochs, unwatch and faults', () => {
  it('a resume on a session link sends a stream frame before each stream’s replay; a v1 link none', async () => {
    const { server, link, seen } = await linked();
    for (const n of [1, 2, 3]) server.publish('a', n);
    const { epoch } = server.head('a');
    expect(epoch).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    await link.resume([{ stream: 'a', seq: 1, epoch }]);
    expect(seen.slice(1)).toEqual([
      ['stream', 'a', epoch, 3],
      ['event', 'a', 2, 2],
      ['event', 'a', 3, 3],
    ]);
    const v1 = await connect(server, null);
    await v1.link.resume([{ stream: 'a', seq: 2 }]);
    expect(v1.seen.slice(1)).toEqual([['event', 'a', 3, 3]]);
  });

  it('another epoch, or a seq past the head, replays the whole log', async () => {
    const { server, link, seen } = await linked();
    for (const n of [1, 2]) server.publish('a', n);
    await link.resume([{ stream: 'a', seq: 1, epoch: 'old-epoch' }]);
    await link.resume([{ stream: 'a', seq: 9 }]);
    const seqs = seen
      .slice(1)
      .map((s) => ((s as unknown[])[0] === 'event' ? (s as unknown[])[2] : 'stream'));
    expect(seqs).toEqual(['stream', 1, 2, 'stream', 1, 2]);
  });

  it('pushStream sends a stream frame on a link (steering)', async () => {
    const { server, seen } = await linked();
    server.current?.pushStream({ stream: 'x', epoch: 'e1', head: 4 });
    await settle();
    expect(seen.slice(1)).toEqual([['stream', 'x', 'e1', 4]]);
  });

  it('unwatch stops a stream on that link at once and is recorded; more than 100 streams drops the link (1007)', async () => {
    const { server, link, seen } = await linked();
    await link.resume([
      { stream: 'a', seq: 0 },
      { stream: 'b', seq: 0 },
    ]);
    link.unwatch?.(['a']);
    server.publish('a', 'a1');
    server.publish('b', 'b1');
    await settle();
    expect(seen.filter((s) => (s as unknown[])[0] === 'event')).toEqual([['event', 'b', 1, 'b1']]);
    expect(server.current?.log.at(-1)).toEqual({ kind: 'unwatch', streams: ['a'] });
    link.unwatch?.(Array.from({ length: 101 }, (_, i) => `s${i}`));
    await settle();
    expect(seen.at(-1)).toEqual(['close', 1007, 'an unwatch names at most 100 streams, got 101']);
  });

  it('restart({ keepState: false }) drops every link and loses logs (new epoch, seq from 1) and sessions; what the app received stays', async () => {
    const { server, link, seen } = await linked();
    await link.send(message('a', 1));
    server.publish('s', 'old');
    const { epoch } = server.head('s');
    server.restart({ keepState: false });
    await settle();
    expect(seen.at(-1)).toEqual(['close', undefined, 'the memory server restarted']);
    expect(server.session(S)).toEqual({ known: false, handled: 0 });
    expect(server.head('s')).toEqual({
      stream: 's',
      epoch: expect.not.stringMatching(epoch),
      head: 0,
    });
    expect(server.publish('s', 'new')).toEqual({ stream: 's', seq: 1, data: 'new' });
    await (await connect(server)).link.send(message('a', 1));
    expect(server.received.map((m) => m.id)).toEqual(['a', 'a']);
  });

  it('restart() keeps logs, epochs and sessions; forgetSessions forgets sessions alone, links stay', async () => {
    const { server, link } = await linked();
    await link.send(message('a', 1));
    server.publish('s', 1);
    const head = server.head('s');
    server.restart();
    expect([server.session(S), server.head('s')]).toEqual([{ known: true, handled: 1 }, head]);
    const again = await connect(server);
    server.forgetSessions();
    expect(server.session(S)).toEqual({ known: false, handled: 0 });
    expect(again.link).toBeDefined();
    expect(server.live).toHaveLength(1);
  });

  it('startOver(stream): the log starts over under a new epoch, and every link watching it is dropped', async () => {
    const { server, link, seen } = await linked();
    const other = await connect(server);
    await link.resume([{ stream: 'a', seq: 0 }]);
    await other.link.resume([{ stream: 'b', seq: 0 }]);
    server.publish('a', 1);
    const before = server.head('a').epoch;
    server.startOver('a');
    await settle();
    expect(seen.at(-1)).toEqual(['close', undefined, 'the log of a started over']);
    expect(server.live).toHaveLength(1);
    expect(server.head('a')).toEqual({
      stream: 'a',
      epoch: expect.not.stringMatching(before),
      head: 0,
    });
    expect(server.head('b').epoch).not.toBe(server.head('a').epoch);
  });
});

/**
 * The reference server's sessions and serials (protocol v2, spec sessions.md §3, §8), on
 * both wires: each guarantee a named test. Epochs, `stream` frames, unwatch and restarts:
 * `server-v2-streams.test.ts`; hostile clients: `hostile/server-sessions.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import {
  open,
  sessionId,
  startServer,
  v2,
  WIRES,
  type WireMessage,
} from './support/server-wire.js';

const msg = (id: string, serial?: number, data: unknown = id): WireMessage =>
  serial === undefined ? { id, data } : { id, serial, data };

describe.each(WIRES)('%s: sessions and serials', (wire) => {
  it('welcome: a v2 link hears { known: false, handled: 0 } for a new session, then { known: true, handled } once it took messages', async () => {
    const { listening } = await startServer();
    const a = await open(wire, listening, v2(sessionId(1)));
    expect(a.welcome.session).toEqual({ known: false, handled: 0 });
    expect(await a.send([msg('m1', 1), msg('m2', 2), msg('m5', 5)])).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'ok' },
    ]);
    const b = await open(wire, listening, v2(sessionId(1)));
    expect(b.welcome.session).toEqual({ known: true, handled: 5 });
  });

  it('a duplicate serial never reaches onMessage twice: the resend on a new link is confirmed, not handed over; onMessage sees session and serial', async () => {
    const { listening, handed } = await startServer();
    const s = sessionId(2);
    const a = await open(wire, listening, v2(s));
    await a.send([msg('m1', 1), msg('m2', 2)]);
    a.close();
    const b = await open(wire, listening, v2(s));
    expect(await b.send([msg('m1', 1), msg('m2', 2), msg('m3', 3)])).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'ok' },
    ]);
    expect(handed.map((h) => h.message)).toEqual([
      { id: 'm1', data: 'm1', session: s, serial: 1 },
      { id: 'm2', data: 'm2', session: s, serial: 2 },
      { id: 'm3', data: 'm3', session: s, serial: 3 },
    ]);
  });

  it('dedup is by serial, not id: a serial at or below taken is a duplicate whatever its id, and a new serial is handed over even with an old id', async () => {
    const { listening, handed } = await startServer();
    const a = await open(wire, listening, v2(sessionId(3)));
    await a.send([msg('x', 1), msg('y', 4)]);
    // Serial 2 was never seen, but is below taken (4): taken in serial order, so a duplicate.
    expect(await a.send([msg('other', 2), msg('x', 7)])).toEqual([
      { status: 'ok' },
      { status: 'ok' },
    ]);
    expect(handed.map((h) => [h.message.id, h.message.serial])).toEqual([
      ['x', 1],
      ['y', 4],
      ['x', 7],
    ]);
  });

  it('refusals are remembered: a duplicate of a refused serial is rejected with the same error and not handed over again', async () => {
    const { listening, handed } = await startServer({
      onMessage: (m) => {
        if (m.data === 'bad') throw new Error('no thanks');
      },
    });
    const s = sessionId(4);
    const a = await open(wire, listening, v2(s));
    expect(await a.send([msg('b1', 1, 'bad'), msg('g2', 2)])).toEqual([
      { status: 'rejected', error: 'no thanks' },
      { status: 'ok' },
    ]);
    const b = await open(wire, listening, v2(s));
    expect(b.welcome.session).toEqual({ known: true, handled: 2 });
    // The refused serial counts as taken: its resend gets the first verdict again.
    expect(await b.send([msg('b1', 1, 'bad'), msg('g2', 2)])).toEqual([
      { status: 'rejected', error: 'no thanks' },
      { status: 'ok' },
    ]);
    expect(handed.map((h) => h.message.id)).toEqual(['b1', 'g2']);
  });

  it('v1 path unchanged: a link without a session gets no session in its welcome, its messages are deduplicated by id, and onMessage sees { id, data } only', async () => {
    const { listening, handed } = await startServer({
      dedupWindow: 2,
      onMessage: (m) => {
        if (m.data === 'bad') throw new Error('no');
      },
    });
    const a = await open(wire, listening);
    expect(a.welcome).not.toHaveProperty('session');
    expect(await a.send([msg('a'), msg('a'), msg('r', undefined, 'bad')])).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'rejected', error: 'no' },
    ]);
    // As in v1: a refusal is not remembered, and the window forgets the oldest ids.
    await a.send([msg('r', undefined, 'bad'), msg('b'), msg('c'), msg('a')]);
    expect(handed.map((h) => h.message)).toEqual([
      { id: 'a', data: 'a' },
      { id: 'r', data: 'bad' },
      { id: 'r', data: 'bad' },
      { id: 'b', data: 'b' },
      { id: 'c', data: 'c' },
      { id: 'a', data: 'a' },
    ]);
  });

  it('an app query parameter named session, without v=2, leaves the link v1', async () => {
    const { listening } = await startServer();
    const a = await open(wire, listening, 'session=mine');
    expect(a.welcome.connectionId).toEqual(expect.any(String));
    expect(a.welcome).not.toHaveProperty('session');
  });

  it('a v2 link without a serial on a message deduplicates that message by id', async () => {
    const { listening, handed } = await startServer();
    const s = sessionId(5);
    const a = await open(wire, listening, v2(s));
    await a.send([msg('a'), msg('a')]);
    expect(handed.map((h) => h.message)).toEqual([{ id: 'a', data: 'a', session: s }]);
  });

  it.each([
    ['a serial on a v1 link', '', 1, /needs a session/],
    ['serial 0', 'v2', 0, /serial must be a safe integer ≥ 1, got 0/],
    ['serial 1.5', 'v2', 1.5, /got 1\.5/],
    ['a string serial', 'v2', '3', /got "3"/],
    ['serial 2^53', 'v2', 2 ** 53, /safe integer/],
  ])('refuses %s, naming it (nack / 400), and hands nothing over', async (_, link, serial, why) => {
    const { listening, handed } = await startServer();
    const a = await open(wire, listening, link === 'v2' ? v2(sessionId(6)) : '');
    const answer = await a.send([{ id: 'm', serial, data: 1 }]);
    if (wire === 'websocket') {
      expect(answer).toEqual([{ status: 'rejected', error: expect.stringMatching(why) }]);
    } else {
      expect(answer).toBe(400);
    }
    expect(handed).toEqual([]);
  });

  it.each([
    ['too short', 'short'],
    ['too long', 'x'.repeat(129)],
    ['a character outside [A-Za-z0-9_-]', `${'a'.repeat(20)}.b`],
    ['missing', ''],
  ])('a session id %s refuses the link (400 / close 1008) naming the limit', async (_, session) => {
    const { listening, server } = await startServer();
    const query = session === '' ? 'v=2' : v2(encodeURIComponent(session));
    const a = await open(wire, listening, query);
    const closed = a.closed();
    if (wire === 'websocket') expect(closed?.code).toBe(1008);
    else expect(closed?.status).toBe(400);
    expect(closed?.reason).toMatch(/session ids must be 16–128 characters of \[A-Za-z0-9_-\]/);
    expect(server.connections.size).toBe(0);
  });

  it('sessions are keyed by principal: the same session id under another principal is another session', async () => {
    const { listening, handed } = await startServer({
      authorize: (req) => (req.url?.includes('user=bob') ? 'bob' : 'alice'),
    });
    const s = sessionId(7);
    const alice = await open(wire, listening, `user=alice&${v2(s)}`);
    await alice.send([msg('a1', 1), msg('a2', 2)]);
    const bob = await open(wire, listening, `user=bob&${v2(s)}`);
    expect(bob.welcome.session).toEqual({ known: false, handled: 0 });
    await bob.send([msg('b1', 1), msg('b2', 2)]);
    const alice2 = await open(wire, listening, `user=alice&${v2(s)}`);
    expect(alice2.welcome.session).toEqual({ known: true, handled: 2 });
    expect(handed.map((h) => [h.principal, h.message.id])).toEqual([
      ['alice', 'a1'],
      ['alice', 'a2'],
      ['bob', 'b1'],
      ['bob', 'b2'],
    ]);
  });

  it('sessionTtlMs: a session is known until sessionTtlMs after its last message, then known: false and its serials are handed over again', async () => {
    let now = 1_000;
    const { listening, handed } = await startServer({ sessionTtlMs: 500, now: () => now });
    const s = sessionId(8);
    const a = await open(wire, listening, v2(s));
    await a.send([msg('m1', 1)]);
    now += 499;
    expect(await a.send([msg('m1', 1)])).toEqual([{ status: 'ok' }]);
    expect(handed).toHaveLength(1);
    now += 499; // the duplicate at +499 counted as activity
    expect((await open(wire, listening, v2(s))).welcome.session).toEqual({
      known: true,
      handled: 1,
    });
    now += 500; // (the welcome above counted too)
    expect((await open(wire, listening, v2(s))).welcome.session).toEqual({
      known: false,
      handled: 0,
    });
    await a.send([msg('m1', 1)]);
    expect(handed).toHaveLength(2);
  });

  it('maxSessions: one more session forgets the least recently active, which is then known: false', async () => {
    const { listening } = await startServer({ maxSessions: 2 });
    const [a, b, c] = await Promise.all(
      [1, 2, 3].map((n) => open(wire, listening, v2(sessionId(`max${n}`)))),
    );
    await a?.send([msg('a', 1)]);
    await b?.send([msg('b', 1)]);
    await a?.send([msg('a', 2)]); // a is now the most recently active
    await c?.send([msg('c', 1)]); // b goes
    const views = [];
    for (const n of [1, 2, 3])
      views.push((await open(wire, listening, v2(sessionId(`max${n}`)))).welcome.session);
    expect(views).toEqual([
      { known: true, handled: 2 },
      { known: false, handled: 0 },
      { known: true, handled: 1 },
    ]);
  });

  it('faults.forgetSessions: every session is known: false on its next welcome', async () => {
    const { listening, server } = await startServer();
    const a = await open(wire, listening, v2(sessionId(9)));
    await a.send([msg('m', 1)]);
    server.faults.forgetSessions();
    expect((await open(wire, listening, v2(sessionId(9)))).welcome.session).toEqual({
      known: false,
      handled: 0,
    });
  });
});

describe('options', () => {
  it('sessionTtlMs and maxSessions that are not positive numbers are refused by createServer', async () => {
    const { createServer } = await import('../src/server/index.js');
    for (const options of [{ sessionTtlMs: 0 }, { maxSessions: -1 }, { sessionTtlMs: '1h' }])
      expect(() => createServer(options as never)).toThrow(TypeError);
  });
});

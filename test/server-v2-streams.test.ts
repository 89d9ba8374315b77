/**
 * The reference server's epochs, `stream` frames, unwatch and restarts (protocol v2,
 * spec sessions.md §5, §6, §8), on both wires: each guarantee a named test.
 */
import { describe, expect, it } from 'vitest';
import { ended, open, sessionId, startServer, v2, WIRES } from './support/server-wire.js';

const EPOCH = /^[A-Za-z0-9_-]{8,64}$/;

describe.each(WIRES)('%s: epochs and stream frames', (wire) => {
  it('a resume on a v2 link sends one stream frame { stream, epoch, head } before each stream’s replay; the epoch is 8+ base64url characters', async () => {
    const { listening, server } = await startServer();
    for (const n of [1, 2, 3]) server.publish('a', n);
    const c = await open(wire, listening, v2(sessionId(1)));
    expect(
      await c.resume([
        { stream: 'a', seq: 1 },
        { stream: 'empty', seq: 0 },
      ]),
    ).toBe('resumed');
    const frames = c.frames();
    const epoch = (frames[0] as { epoch: string }).epoch;
    expect(epoch).toMatch(EPOCH);
    expect(frames).toEqual([
      { type: 'stream', stream: 'a', epoch, head: 3 },
      { type: 'event', stream: 'a', seq: 2, data: 2 },
      { type: 'event', stream: 'a', seq: 3, data: 3 },
      { type: 'stream', stream: 'empty', epoch: expect.stringMatching(EPOCH), head: 0 },
    ]);
  });

  it('an epoch never changes under a live log: every resume, and a stream first published after it was watched, have the same one', async () => {
    const { listening, server } = await startServer();
    const c = await open(wire, listening, v2(sessionId(2)));
    await c.resume([{ stream: 'later', seq: 0 }]);
    server.publish('later', 'x');
    const d = await open(wire, listening, v2(sessionId(3)));
    await d.resume([{ stream: 'later', seq: 1 }]);
    const heads = [...c.frames(), ...d.frames()].filter((f) => f.type === 'stream');
    expect(heads).toEqual([
      { type: 'stream', stream: 'later', epoch: expect.any(String), head: 0 },
      { type: 'stream', stream: 'later', epoch: (heads[0] as { epoch: string }).epoch, head: 1 },
    ]);
  });

  it('a v1 link gets no stream frame, and its replay is as in v1', async () => {
    const { listening, server } = await startServer();
    for (const n of [1, 2]) server.publish('a', n);
    const c = await open(wire, listening);
    await c.resume([{ stream: 'a', seq: 5, epoch: 'whatever' }]);
    expect(c.frames()).toEqual([]);
    await c.resume([{ stream: 'a', seq: 1 }]);
    expect(c.frames()).toEqual([{ type: 'event', stream: 'a', seq: 2, data: 2 }]);
  });

  it('a position in the same epoch replays after its seq; in another epoch, or past the head, the whole log is replayed (the client decides the reset)', async () => {
    const { listening, server } = await startServer();
    for (const n of [1, 2, 3]) server.publish('a', n);
    const c = await open(wire, listening, v2(sessionId(4)));
    await c.resume([{ stream: 'a', seq: 0 }]);
    const epoch = (c.frames()[0] as { epoch: string }).epoch;
    const seqs = async (position: object) => {
      const d = await open(wire, listening, v2(sessionId(4)));
      await d.resume([position]);
      return d.frames().map((f) => (f.type === 'event' ? f.seq : f.type));
    };
    expect(await seqs({ stream: 'a', seq: 2, epoch })).toEqual(['stream', 3]);
    expect(await seqs({ stream: 'a', seq: 2, epoch: 'another' })).toEqual(['stream', 1, 2, 3]);
    expect(await seqs({ stream: 'a', seq: 41 })).toEqual(['stream', 1, 2, 3]);
    expect(await seqs({ stream: 'a', seq: 41, epoch })).toEqual(['stream', 1, 2, 3]);
  });

  it('a position whose epoch is not a string of 1–64 characters is refused (1007 / 400)', async () => {
    const { listening } = await startServer();
    for (const epoch of ['', 'e'.repeat(65), 7]) {
      const c = await open(wire, listening, v2(sessionId(5)));
      const answer = await c.resume([{ stream: 'a', seq: 0, epoch }]);
      if (wire === 'websocket') expect(answer).toMatchObject({ code: 1007 });
      else expect(answer).toBe(400);
    }
  });

  it('faults.startOver: every link watching the stream is dropped, and the log starts over at seq 1 under a new epoch', async () => {
    const { listening, server } = await startServer();
    for (const n of [1, 2]) server.publish('a', n);
    const watching = await open(wire, listening, v2(sessionId(6)));
    await watching.resume([{ stream: 'a', seq: 2 }]);
    const other = await open(wire, listening, v2(sessionId(7)));
    await other.resume([{ stream: 'b', seq: 0 }]);
    const before = (watching.frames()[0] as { epoch: string }).epoch;
    server.faults.startOver('a');
    await ended(watching);
    expect(other.closed()).toBeUndefined();
    expect(server.publish('a', 'new')).toEqual({ stream: 'a', seq: 1, data: 'new' });
    const again = await open(wire, listening, v2(sessionId(6)));
    await again.resume([{ stream: 'a', seq: 2, epoch: before }]);
    expect(again.frames()).toEqual([
      { type: 'stream', stream: 'a', epoch: expect.not.stringMatching(before), head: 1 },
      { type: 'event', stream: 'a', seq: 1, data: 'new' },
    ]);
  });
});

describe.each(WIRES)('%s: unwatch', (wire) => {
  it('the server stops sending the streams named on that link only; the others and other links go on', async () => {
    const { listening, server } = await startServer();
    const c = await open(wire, listening, v2(sessionId(10)));
    const d = await open(wire, listening, v2(sessionId(11)));
    for (const link of [c, d])
      await link.resume([
        { stream: 'a', seq: 0 },
        { stream: 'b', seq: 0 },
      ]);
    expect(await c.unwatch(['a'])).toBe(wire === 'websocket' ? 'done' : 204);
    server.publish('a', 'a1');
    server.publish('b', 'b1');
    // A resume answered after the publishes: every live frame before it was written.
    await c.resume([]);
    await d.resume([]);
    const events = (link: typeof c) =>
      link.frames().flatMap((f) => (f.type === 'event' ? [f.data] : []));
    expect(events(c)).toEqual(['b1']);
    expect(events(d)).toEqual(['a1', 'b1']);
    const [connection] = [...server.connections.values()].filter((x) => !x.streams.has('a'));
    expect(connection?.streams).toEqual(new Set(['b']));
  });

  it('an unwatch of more than 100 streams, or not of names, is refused (1007 / 400) naming the limit', async () => {
    const { listening } = await startServer();
    const many = Array.from({ length: 101 }, (_, i) => `s${i}`);
    for (const streams of [many, [''], 'a', [1]]) {
      const c = await open(wire, listening, v2(sessionId(12)));
      const answer = await c.unwatch(streams);
      if (wire === 'websocket') expect(answer).toMatchObject({ code: 1007 });
      else expect(answer).toBe(400);
    }
    const c = await open(wire, listening, v2(sessionId(12)));
    if (wire === 'websocket') {
      expect(await c.unwatch(many)).toMatchObject({ reason: /at most 100 streams, got 101/ });
    } else {
      expect(await c.unwatch(many.slice(0, 100))).toBe(204);
    }
  });
});

describe.each(WIRES)('%s: restarts', (wire) => {
  it('restart({ keepState: false }) loses every log (new epochs, seq from 1) and every session (known: false), like a crash', async () => {
    const { listening, server, handed } = await startServer();
    const s = sessionId(20);
    server.publish('a', 'old');
    const c = await open(wire, listening, v2(s));
    await c.send([{ id: 'm1', serial: 1 }]);
    await c.resume([{ stream: 'a', seq: 0 }]);
    const epoch = (c.frames()[0] as { epoch: string }).epoch;
    await server.faults.restart({ keepState: false });
    await ended(c);
    const d = await open(wire, listening, v2(s));
    expect(d.welcome.session).toEqual({ known: false, handled: 0 });
    expect(server.publish('a', 'new')).toEqual({ stream: 'a', seq: 1, data: 'new' });
    await d.resume([{ stream: 'a', seq: 1, epoch }]);
    expect(d.frames()).toEqual([
      { type: 'stream', stream: 'a', epoch: expect.not.stringMatching(epoch), head: 1 },
      { type: 'event', stream: 'a', seq: 1, data: 'new' },
    ]);
    await d.send([{ id: 'm1', serial: 1 }]);
    expect(handed).toHaveLength(2);
  });

  it('restart() keeps logs, epochs and sessions (a server with a durable store)', async () => {
    const { listening, server, handed } = await startServer();
    const s = sessionId(21);
    server.publish('a', 'kept');
    const c = await open(wire, listening, v2(s));
    await c.send([{ id: 'm1', serial: 1 }]);
    await c.resume([{ stream: 'a', seq: 0 }]);
    const epoch = (c.frames()[0] as { epoch: string }).epoch;
    await server.faults.restart();
    await ended(c);
    const d = await open(wire, listening, v2(s));
    expect(d.welcome.session).toEqual({ known: true, handled: 1 });
    await d.resume([{ stream: 'a', seq: 1, epoch }]);
    expect(d.frames()).toEqual([{ type: 'stream', stream: 'a', epoch, head: 1 }]);
    await d.send([{ id: 'm1', serial: 1 }]);
    expect(handed).toHaveLength(1);
  });
});

import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { type FetchLike, sseTransport } from '../../adapters/sse.js';
import { connect, recordStates, startServer, until } from './wire.js';

const transport = (url: string, extra: Partial<Parameters<typeof sseTransport>[0]> = {}) =>
  sseTransport({ url, EventSource, ...extra });

describe('SSE + POST adapter against the reference server', () => {
  it('R6 a forgotten connection answers 404: one reconnect for many stale sends, same ids, no duplicates', async () => {
    const { server, listening, received } = await startServer();
    const conn = connect({ transport: transport(listening.sseUrl) });
    await until(() => conn.state === 'open', 'open');
    const states = recordStates(conn);
    const errors: Array<[string, number | undefined]> = [];
    conn.on('error', (e) => errors.push([e.kind, e.status]));
    server.faults.forgetConnections();
    const sends = Array.from({ length: 20 }, (_, i) => conn.send(i, { id: `s${i}` }));
    await Promise.all(sends);
    expect(states.filter((s) => s === 'reconnecting')).toHaveLength(1);
    // The new link's welcome says the server never took a message of this session, while
    // messages were on the wire before: it may or may not have them, so it is said (R22).
    expect(errors).toEqual([
      ['stale', 404],
      ['session-lost', undefined],
    ]);
    expect(received.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}`));
  });

  it('R15 an idle client whose connection the server forgot hears no more pings, reconnects and gets what was published', async () => {
    const { server, listening } = await startServer();
    const conn = connect({ transport: sseTransport({ url: listening.sseUrl, EventSource }) });
    const got: unknown[] = [];
    conn.on('message', (data) => got.push(data));
    conn.watch('feed');
    await until(() => conn.state === 'open', 'open');
    server.publish('feed', 1);
    await until(() => got.length === 1, 'the first event');
    server.faults.forgetConnections();
    server.publish('feed', 2);
    // No send ever meets a 404: only the silence of the forgotten stream can tell.
    await until(() => got.length === 2, 'the event published while forgotten');
    expect(got).toEqual([1, 2]);
  });

  it('R11 a 4xx or a per-message rejection rejects; the link stays', async () => {
    const { listening } = await startServer({
      maxBodyBytes: 200,
      onMessage: (m) => {
        if (m.id === 'bad') throw new Error('not allowed');
      },
    });
    const conn = connect({ transport: transport(listening.sseUrl) });
    await until(() => conn.state === 'open', 'open');
    const states = recordStates(conn);
    await expect(conn.send('b', { id: 'bad' })).rejects.toMatchObject({
      reason: 'rejected',
      cause: 'not allowed',
    });
    // One batch: the server refuses the whole request (413); only the big one is refused.
    const batch = [
      conn.send('s1', { id: 's1' }),
      // Over the data limit and the 64 KiB of envelope a body may hold beside it.
      conn.send('x'.repeat(200 + 65_536), { id: 'big' }),
      conn.send('s2', { id: 's2' }),
    ];
    const outcomes = await Promise.all(
      batch.map((p) =>
        p.then(
          () => 'ok',
          (e: { reason: string }) => e.reason,
        ),
      ),
    );
    expect(outcomes).toEqual(['ok', 'rejected', 'ok']);
    await conn.send('g', { id: 'good' });
    expect(states).toEqual([]);
  });

  it('R12 a 5xx is retried on a new link; the app sees the status', async () => {
    const { server, listening, received } = await startServer();
    const conn = connect({ transport: transport(listening.sseUrl) });
    await until(() => conn.state === 'open', 'open');
    const errors: Array<[string, number | undefined]> = [];
    conn.on('error', (e) => errors.push([e.kind, e.status]));
    server.faults.failNextSends(2, 503);
    await conn.send('x', { id: 'x' });
    expect(received.map((m) => m.id)).toEqual(['x']);
    expect(errors).toEqual([
      ['link', 503],
      ['session-lost', undefined],
      ['link', 503],
      ['session-lost', undefined],
    ]);
  });

  it('R3 a resume answered HTTP 500 reaches the app as the error status', async () => {
    const { server, listening } = await startServer();
    server.faults.failNextResumes(1);
    const conn = connect({ transport: transport(listening.sseUrl) });
    const errors: Array<[string, number | undefined]> = [];
    conn.on('error', (e) => errors.push([e.kind, e.status]));
    conn.watch('a');
    await conn.send('x');
    expect(errors).toEqual([['link', 500]]);
  });

  it('headers may be an async function, called for every request', async () => {
    let calls = 0;
    const { listening } = await startServer({
      authorize: (req) =>
        req.url?.split('?')[0]?.endsWith('/events') === true ||
        req.headers.authorization === 'Bearer t',
    });
    const conn = connect({
      transport: transport(listening.sseUrl, {
        headers: async () => {
          calls++;
          return { Authorization: 'Bearer t' };
        },
      }),
    });
    await conn.send(1);
    await conn.send(2);
    expect(calls).toBe(2);
  });

  it('R17 an event stream refused with 401 twice in a row closes the connection as auth', async () => {
    const { listening } = await startServer({ authorize: () => false });
    const conn = connect({ transport: transport(listening.sseUrl) });
    const errors: Array<[string, number | undefined, number | undefined]> = [];
    conn.on('error', (e) => errors.push([e.kind, e.code, e.status]));
    const sent = conn.send('x').catch((e) => e.reason);
    await until(() => conn.state === 'closed', 'closed');
    // An HTTP status, not a close code: ConnectionError.status, never .code. The first
    // refusal is tried once more at once, with fresh credentials.
    expect(errors).toEqual([
      ['link', undefined, 401],
      ['auth', undefined, 401],
    ]);
    expect(await sent).toBe('closed');
  });

  /*
   * The race the conformance kit found (issue 13): the replay travels on the event stream,
   * the resume's 200 on its own connection, and on loopback the answer used to win. A
   * resume now also waits for the `resumed` event written after the replay, so the first
   * send after a resume leaves the client, and reaches the server, only once the app has
   * every replayed event. Counted both when the send POST leaves (`fetch`, the strict
   * point: a send's round trip would give a late replay time to catch up) and when the
   * server's app is handed it. Events of 1 KiB, so a replay takes many chunks.
   */
  const REPLAYED = 500;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const payload = (i: number | string) => ({ i, pad: 'x'.repeat(1024) });
  /** The transport, and the app's count of events each time a send POST left. */
  const counting = (url: string, got: readonly unknown[]) => {
    const atSendLeft: number[] = [];
    const fetchCounting: FetchLike = (input, init) => {
      if (input.includes('/send')) atSendLeft.push(got.length);
      return fetch(input, init);
    };
    return { atSendLeft, transport: transport(url, { fetch: fetchCounting }) };
  };

  it('R2 the first link: every event published before it reaches the app before the first send leaves', async () => {
    const got: unknown[] = [];
    const atHanded: number[] = [];
    const { server, listening } = await startServer({
      onMessage: () => atHanded.push(got.length),
    });
    for (const i of range(REPLAYED)) server.publish('feed', payload(i));
    const { atSendLeft, transport: t } = counting(listening.sseUrl, got);
    const conn = connect({ transport: t });
    conn.on('message', (data) => got.push(data));
    conn.watch('feed');
    await conn.send('first');
    expect(atSendLeft).toEqual([REPLAYED]);
    expect(atHanded).toEqual([REPLAYED]);
    expect(got).toEqual(range(REPLAYED).map(payload));
  });

  it('R2 a dropped link: the replay of every event published meanwhile reaches the app before the first send leaves', async () => {
    const got: unknown[] = [];
    const atHanded: number[] = [];
    const { server, listening } = await startServer({
      onMessage: () => atHanded.push(got.length),
    });
    const { atSendLeft, transport: t } = counting(listening.sseUrl, got);
    const conn = connect({ transport: t });
    conn.on('message', (data) => got.push(data));
    conn.watch('feed');
    await conn.send('before');
    const states = recordStates(conn);
    for (let round = 1; round <= 3; round++) {
      server.faults.dropAll();
      // Published while no link is up: these reach the client only as the new link's replay.
      for (const i of range(REPLAYED)) server.publish('feed', payload(`${round}:${i}`));
      await until(
        () => states.filter((to) => to === 'reconnecting').length === round,
        'the dropped link noticed',
      );
      // Queued while reconnecting: flushed on the new link once its resume is done.
      await conn.send(`after drop ${round}`);
    }
    const expected = range(4).map((round) => round * REPLAYED);
    expect(atSendLeft).toEqual(expected);
    expect(atHanded).toEqual(expected);
    expect(got).toHaveLength(3 * REPLAYED);
  });

  it('names the missing EventSource option where there is no global', () => {
    expect(() => sseTransport({ url: 'http://x' })).toThrow(/pass the EventSource option/);
  });
});

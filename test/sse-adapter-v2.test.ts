/**
 * The SSE adapter, protocol v2: the session in the query of B/events, serials and epochs on
 * the wire, the welcome's session, the stream event and unwatch.
 */
import { describe, expect, it } from 'vitest';
import { settle } from './support/settle.js';
import {
  answer,
  confirming,
  deep,
  message,
  open,
  SESSION,
  SESSION_QUERY,
  V2_WELCOME,
} from './support/sse-fakes.js';

describe('SSE adapter, protocol v2: the session in the query of B/events', () => {
  it('goes after the app’s own query on B/events only; the POSTs keep the app’s query alone', async () => {
    const { fetch, requests } = confirming();
    const { link, source } = open(
      fetch,
      { url: 'https://h/sse/?token=t&x=1#frag' },
      {},
      V2_WELCOME,
      SESSION,
    );
    expect(source.url).toBe(`https://h/sse/events?token=t&x=1&${SESSION_QUERY}`);
    await link.resume([{ stream: 's', seq: 0 }]);
    expect(await link.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(requests.map((r) => r.url)).toEqual([
      'https://h/sse/resume?token=t&x=1',
      'https://h/sse/send?token=t&x=1',
    ]);
  });

  it.each([
    ['http://h/sse', `http://h/sse/events?${SESSION_QUERY}`],
    ['http://h/sse?', `http://h/sse/events?${SESSION_QUERY}`],
  ])('%s: B/events is %s', (url, events) => {
    const { source } = open(confirming().fetch, { url }, {}, null, SESSION);
    expect(source.url).toBe(events);
  });

  it('without link options (a caller of the v1 contract) B/events is asked as in v1', () => {
    const { source } = open(confirming().fetch, { url: 'https://h/sse?token=t' });
    expect(source.url).toBe('https://h/sse/events?token=t');
  });
});

describe('SSE adapter, protocol v2: serials and epochs on the wire', () => {
  it('on a link opened without a session, messages carry no serial (a v2 server refuses one there)', async () => {
    const { fetch, requests } = confirming();
    const { link } = open(fetch);
    await Promise.all([link.send(message('a', 1, 7)), link.send(message('b', 2, 8))]);
    expect(requests.map((r) => r.init.body)).toEqual([
      '{"messages":[{"id":"a","data":1},{"id":"b","data":2}]}',
    ]);
  });

  it('a message without a serial that is an integer ≥ 1 goes out as in v1, without one', async () => {
    const { fetch, requests } = confirming();
    const { link } = open(fetch, {}, {}, undefined, SESSION);
    await Promise.all([
      link.send({ id: 'a', serial: 0, data: 1, json: '1', retry: true }),
      link.send({
        id: 'b',
        serial: undefined as unknown as number,
        data: 2,
        json: '2',
        retry: true,
      }),
    ]);
    expect(requests.map((r) => r.init.body)).toEqual([
      '{"messages":[{"id":"a","data":1},{"id":"b","data":2}]}',
    ]);
  });

  it('resume and suspend carry each position’s epoch where there is one, and nothing else (resume: and its resumeId)', async () => {
    const { fetch, requests } = confirming();
    const { link } = open(fetch);
    const positions = [
      { stream: 'a', seq: 41, epoch: 'k2f9' },
      { stream: 'b', seq: 0 },
      { stream: 'c', seq: 3, epoch: undefined, extra: 'not for the wire' },
    ];
    await link.resume(positions);
    link.suspend?.(positions);
    await settle();
    const body =
      '{"streams":[{"stream":"a","seq":41,"epoch":"k2f9"},{"stream":"b","seq":0},{"stream":"c","seq":3}]}';
    expect(requests.map((r) => [r.url, r.init.body])).toEqual([
      ['http://server/sse/resume', body.replace(/}$/, ',"resumeId":"1"}')],
      ['http://server/sse/suspend', body],
    ]);
  });
});

describe('SSE adapter, protocol v2: the welcome’s session', () => {
  it('is checked and handed to open() with the heartbeat; without one, open() gets none', () => {
    const v2 = open(
      confirming().fetch,
      {},
      {},
      {
        ...V2_WELCOME,
        session: { known: false, handled: 0, extra: 1 },
      },
    );
    expect(v2.welcomes).toStrictEqual([
      [{ heartbeatMs: 1000, session: { known: false, handled: 0 } }],
    ]);
    const v1 = open(confirming().fetch);
    expect(v1.welcomes).toStrictEqual([[{ heartbeatMs: 1000 }]]);
    expect([v2.closes, v1.closes]).toEqual([[], []]);
  });

  it.each([
    ['null', null, 'a welcome whose session is not an object'],
    ['known a number', { known: 1, handled: 1 }, 'a welcome whose session.known is not a boolean'],
    [
      'handled negative',
      { known: true, handled: -1 },
      'a welcome whose session.handled is not an integer ≥ 0',
    ],
    [
      'handled past 2^53',
      { known: true, handled: 2 ** 53 },
      'a welcome whose session.handled is not an integer ≥ 0',
    ],
  ])('a session that is %s is a protocol close; the link never opens', (_what, session, reason) => {
    const { source, welcomes, closes } = open(confirming().fetch, {}, {}, null);
    expect(() => source.emit('welcome', { ...V2_WELCOME, session })).not.toThrow();
    expect(welcomes).toEqual([]);
    expect(source.closed).toBe(true);
    expect(closes).toStrictEqual([{ reason, protocol: true }]);
  });
});

describe('SSE adapter, protocol v2: the stream event', () => {
  it('is checked and handed to stream() as { stream, epoch, head } only, in order with events', () => {
    const { source, seen, heads, closes } = open(confirming().fetch);
    source.emit('stream', { stream: 'chat', epoch: 'k2f9', head: 57, type: 'stream' });
    source.emit('event', { stream: 'chat', seq: 1, data: 'd' });
    expect(heads).toStrictEqual([{ stream: 'chat', epoch: 'k2f9', head: 57 }]);
    expect(seen).toEqual(['open', 'stream', 'message']);
    expect(closes).toEqual([]);
  });

  it('before welcome is a protocol close', () => {
    const { source, heads, closes } = open(confirming().fetch, {}, {}, null);
    source.emit('stream', { stream: 's', epoch: 'e', head: 0 });
    expect(heads).toEqual([]);
    expect(source.closed).toBe(true);
    expect(closes).toStrictEqual([{ reason: 'a stream event before welcome', protocol: true }]);
  });

  it.each([
    ['a stream of 257 characters', `{"stream":"${'x'.repeat(257)}","epoch":"e","head":0}`],
    ['an empty epoch', '{"stream":"s","epoch":"","head":0}'],
    ['an epoch of 65 characters', `{"stream":"s","epoch":"${'e'.repeat(65)}","head":0}`],
    ['a fractional head', '{"stream":"s","epoch":"e","head":1.5}'],
    ['a head that is a string', '{"stream":"s","epoch":"e","head":"3"}'],
    ['data that is not JSON', '{nope'],
    ['data that is not an object', '[1]'],
    ['data 20,000 levels deep', deep(20_000)],
  ])('with %s is a protocol close, never a throw into EventSource', (_what, text) => {
    const { source, heads, closes } = open(confirming().fetch);
    expect(() => source.emitRaw('stream', text)).not.toThrow();
    expect(heads).toEqual([]);
    expect(source.closed).toBe(true);
    expect(closes).toMatchObject([{ protocol: true }]);
  });
});

describe('SSE adapter, protocol v2: unwatch', () => {
  it('posts B/unwatch {"streams":[…]} with the connection id to a v2 server; nothing for an empty list', async () => {
    const { fetch, requests } = confirming();
    const { link } = open(fetch, { url: 'https://h/sse?token=t' }, {}, V2_WELCOME, SESSION);
    link.unwatch?.(['chat', 'news']);
    link.unwatch?.([]);
    await settle();
    expect(requests.map((r) => [r.url, r.init.headers['X-Connection-ID'], r.init.body])).toEqual([
      ['https://h/sse/unwatch?token=t', 'c1', '{"streams":["chat","news"]}'],
    ]);
  });

  it('posts nothing to a v1 server (a welcome without session), before welcome or after close', async () => {
    const { fetch, requests } = confirming();
    const v1 = open(fetch);
    v1.link.unwatch?.(['chat']);
    const early = open(fetch, {}, {}, null);
    early.link.unwatch?.(['chat']);
    const closed = open(fetch, {}, {}, V2_WELCOME);
    closed.link.close();
    closed.link.unwatch?.(['chat']);
    await settle();
    expect(requests).toEqual([]);
  });

  it.each([401, 403])('an unwatch answered %i ends the link as auth', async (status) => {
    const { link, closes } = open(answer(status), {}, {}, V2_WELCOME);
    link.unwatch?.(['chat']);
    await settle();
    expect(closes).toStrictEqual([
      { httpStatus: status, reason: `POST unwatch answered HTTP ${status}`, auth: true },
    ]);
  });

  it('any other answer, or a network error, is ignored: fire-and-forget', async () => {
    const failing = open(
      async () => {
        throw new TypeError('fetch failed');
      },
      {},
      {},
      V2_WELCOME,
    );
    failing.link.unwatch?.(['chat']);
    const refused = open(answer(500), {}, {}, V2_WELCOME);
    refused.link.unwatch?.(['chat']);
    await settle();
    expect([failing.closes, refused.closes]).toEqual([[], []]);
  });

  it('an unwatch still in flight when the link ends is aborted', async () => {
    const signals: AbortSignal[] = [];
    const { link } = open(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          signals.push(init.signal);
          init.signal.addEventListener('abort', () => reject(init.signal.reason));
        }),
      {},
      {},
      V2_WELCOME,
    );
    link.unwatch?.(['chat']);
    await settle();
    expect(signals.map((s) => s.aborted)).toEqual([false]);
    link.close();
    expect(signals.map((s) => s.aborted)).toEqual([true]);
  });
});

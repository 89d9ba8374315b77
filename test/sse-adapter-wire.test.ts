/**
 * The SSE adapter on the wire: the send body, the url's query and redirects, answers and
 * events not of the protocol shape, refusals, Retry-After and the welcome.
 */
import { describe, expect, it } from 'vitest';
import type { FetchLike } from '../adapters/sse.js';
import { settle } from './support/settle.js';
import {
  answer,
  answerText,
  confirming,
  deep,
  message,
  open,
  SESSION,
} from './support/sse-fakes.js';

describe('SSE adapter: the data goes on the wire as serialised at send()', () => {
  it('builds the send POST body around each message.json, without serialising data again', async () => {
    const { fetch, requests } = confirming();
    const { link } = open(fetch, {}, {}, undefined, SESSION);
    const data = {
      toJSON() {
        throw new Error('data must not be serialised again by the adapter');
      },
    };
    const outcomes = await Promise.all([
      link.send({ id: 'a', serial: 1834, data, json: '{"x":1}', retry: true }),
      link.send({ id: 'b"', serial: 1835, data, json: '[2,"two"]', retry: true }),
    ]);
    expect(outcomes).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(requests.map((r) => r.init.body)).toEqual([
      '{"messages":[{"id":"a","serial":1834,"data":{"x":1}},{"id":"b\\"","serial":1835,"data":[2,"two"]}]}',
    ]);
  });
});

describe('SSE adapter: the query string of url, and redirects', () => {
  it('keeps the query string of url on the event stream and every POST; drops a fragment', async () => {
    const { fetch, requests } = confirming();
    const { link, source } = open(fetch, { url: 'https://h/sse/?token=t&x=1#frag' });
    expect(source.url).toBe('https://h/sse/events?token=t&x=1');
    await link.resume([{ stream: 's', seq: 0 }]);
    expect(await link.send(message('a', 1))).toEqual({ status: 'ok' });
    link.suspend?.([]);
    await settle();
    expect(requests.map((r) => r.url)).toEqual([
      'https://h/sse/resume?token=t&x=1',
      'https://h/sse/send?token=t&x=1',
      'https://h/sse/suspend?token=t&x=1',
    ]);
  });

  it('a url without a query string gets none', () => {
    const { source } = open(confirming().fetch, { url: 'https://h/sse' });
    expect(source.url).toBe('https://h/sse/events');
  });

  it('every POST asks fetch to fail on a redirect', async () => {
    const { fetch, requests } = confirming();
    const { link } = open(fetch);
    await link.resume([]);
    await link.send(message('a', 1));
    expect(requests.map((r) => r.init.redirect)).toEqual(['error', 'error']);
  });

  it('an answer that followed a redirect anyway is retry, never a confirmation', async () => {
    const redirected: FetchLike = async (_url, init) => {
      const { messages } = JSON.parse(init.body) as { messages: Array<{ id: string }> };
      return {
        status: 200,
        redirected: true,
        json: async () => ({ results: messages.map(({ id }) => ({ id, status: 'ok' })) }),
      };
    };
    const { link } = open(redirected);
    expect(await link.send(message('a', 1))).toMatchObject({
      status: 'retry',
      error: new Error('POST /send was redirected'),
    });
  });
});

describe('SSE adapter: events and answers not of the protocol shape are a protocol close, never a throw', () => {
  const welcomes: Array<[string, string]> = [
    ['a connectionId that is a number', '{"connectionId":42,"heartbeatMs":1000}'],
    ['a connectionId with a hostile toString', '{"connectionId":{"toString":1}}'],
    ['no connectionId', '{"heartbeatMs":1000}'],
    ['a heartbeatMs that is a string', '{"connectionId":"c","heartbeatMs":"1000"}'],
    ['a heartbeatMs of 0', '{"connectionId":"c","heartbeatMs":0}'],
    ['a negative heartbeatMs', '{"connectionId":"c","heartbeatMs":-1}'],
    ['an infinite heartbeatMs', '{"connectionId":"c","heartbeatMs":1e400}'],
    ['a heartbeatMs with a hostile valueOf', '{"connectionId":"c","heartbeatMs":{"valueOf":1}}'],
    ['a connectionId 20,000 levels deep', `{"connectionId":${deep(20_000)}}`],
    ['JSON 20,000 levels deep', deep(20_000)],
    ['null', 'null'],
  ];
  it.each(welcomes)('a welcome with %s', (_what, text) => {
    const { source, seen, closes } = open(confirming().fetch, {}, {}, null);
    expect(() => source.emitRaw('welcome', text)).not.toThrow();
    expect(seen).toEqual([]);
    expect(source.closed).toBe(true);
    expect(closes).toMatchObject([{ protocol: true }]);
  });

  const answers: Array<[string, string]> = [
    ['results that are not an array', '{"results":42}'],
    ['a result that is a number', '{"results":[42]}'],
    ['a result that is null', '{"results":[null]}'],
    [
      'a result whose id has a hostile toString',
      '{"results":[{"id":{"toString":1},"status":"ok"}]}',
    ],
    [
      'a result whose status has a hostile toString',
      '{"results":[{"id":"a","status":{"toString":1}}]}',
    ],
    ['a result whose status is unknown', '{"results":[{"id":"a","status":"maybe"}]}'],
    ['results 20,000 levels deep', `{"results":${deep(20_000)}}`],
    ['a result id 20,000 levels deep', `{"results":[{"id":${deep(20_000)},"status":"ok"}]}`],
    ['a body that is a number', '42'],
    ['a body that is null', 'null'],
    ['a body 20,000 levels deep', deep(20_000)],
  ];
  it.each(answers)(
    'a 200 send answer with %s: the send is stale and the link ends',
    async (_what, text) => {
      const { link, source, closes } = open(answerText(200, text));
      expect(await link.send(message('a', 1))).toEqual({ status: 'stale' });
      expect(source.closed).toBe(true);
      expect(closes).toMatchObject([{ protocol: true }]);
    },
  );

  it('a result that is not an object poisons the whole answer: no verdict in it is trusted', async () => {
    const { link, closes } = open(answerText(200, '{"results":[{"id":"a","status":"ok"},7]}'));
    const outcomes = await Promise.all([link.send(message('a', 1)), link.send(message('b', 2))]);
    expect(outcomes).toEqual([{ status: 'stale' }, { status: 'stale' }]);
    expect(closes).toEqual([
      { reason: 'POST send answered a result that is not an object', protocol: true },
    ]);
  });

  it('a rejection whose error is hostile or deeply nested is kept as it came, never called', async () => {
    const { link, closes } = open(async (_url, init) => {
      const { messages } = JSON.parse(init.body) as { messages: Array<{ id: string }> };
      return {
        status: 200,
        json: async () =>
          JSON.parse(
            `{"results":[{"id":"${messages[0]?.id}","status":"rejected","error":{"toString":1,"valueOf":1}},` +
              `{"id":"${messages[1]?.id}","status":"rejected","error":${deep(20_000)}}]}`,
          ),
      };
    });
    const [a, b] = await Promise.all([link.send(message('a', 1)), link.send(message('b', 2))]);
    expect(a).toEqual({ status: 'rejected', error: { toString: 1, valueOf: 1 } });
    expect(b).toMatchObject({ status: 'rejected' });
    expect(closes).toEqual([]);
  });

  it('a refusal whose error is hostile is kept as it came', async () => {
    const { link } = open(answerText(422, '{"error":{"toString":1}}'));
    expect(await link.send(message('a', 1))).toEqual({
      status: 'rejected',
      error: { toString: 1 },
      httpStatus: 422,
    });
  });

  it('a response whose json() throws at once, or whose status is not a number, is retry', async () => {
    const throwing = open(async () => ({
      status: 200,
      json: () => {
        throw new Error('no body');
      },
    }));
    expect(await throwing.link.send(message('a', 1))).toEqual({ status: 'stale' });
    expect(throwing.closes).toMatchObject([{ protocol: true }]);
    const statusless = open(async () => ({
      status: 'ok' as unknown as number,
      json: async () => ({}),
    }));
    expect(await statusless.link.send(message('a', 1))).toMatchObject({ status: 'retry' });
  });

  it('an event whose stream and seq are 20,000 levels deep is handed to the machine, which checks it', () => {
    const { source, frames, closes } = open(
      confirming().fetch,
      {},
      { message: (f) => frames.push(f) },
    );
    source.emitRaw('event', `{"stream":${deep(20_000)},"seq":${deep(20_000)},"data":1}`);
    source.emitRaw('event', '{"stream":{"toString":1},"seq":{"valueOf":1},"data":2}');
    expect(frames.map((f) => f.data)).toEqual([1, 2]);
    expect(closes).toEqual([]);
  });

  it.each(['open', 'message', 'alive', 'stream'] as const)(
    'an exception in the machine’s %s handler is a protocol close of the link, never a throw into EventSource',
    (which) => {
      const boom = new Error(`${which} exploded`);
      const { source, closes } = open(
        confirming().fetch,
        {},
        {
          [which]: () => {
            throw boom;
          },
        },
        null,
      );
      expect(() => {
        source.emit('welcome', { connectionId: 'c1' });
        source.emit('event', { data: 1 });
        source.emit('stream', { stream: 's', epoch: 'e', head: 0 });
        source.emit('ping', {});
      }).not.toThrow();
      expect(source.closed).toBe(true);
      expect(closes).toMatchObject([{ protocol: true, error: boom }]);
    },
  );

  it('an exception while ending the link after a bad answer settles the send and rejects nothing unhandled', async () => {
    const { link } = open(
      answerText(200, '{"results":[{"id":{"toString":1},"status":"ok"}]}'),
      {},
      {
        close: () => {
          throw new Error('close exploded');
        },
      },
    );
    expect(await link.send(message('a', 1))).toEqual({ status: 'stale' });
    expect(await link.send(message('b', 2))).toEqual({ status: 'stale' });
  });
});

describe('SSE adapter: refusals, Retry-After and the welcome', () => {
  it('an event stream refused with 403 is credentials refused: auth, not fatal', () => {
    const { source, closes } = open(answer(200));
    source.emit('error', undefined, 403);
    expect(closes).toStrictEqual([
      { httpStatus: 403, reason: 'the event stream answered HTTP 403', auth: true },
    ]);
  });

  it.each([401, 403])(
    'a send POST answered %i ends the link as auth; its messages and the ones waiting are stale',
    async (status) => {
      let calls = 0;
      const { link, closes } = open(async () => {
        calls++;
        return { status, json: async () => ({ error: 'unauthorized' }) };
      });
      const first = link.send(message('a', 1));
      await settle();
      const waiting = link.send(message('b', 2));
      expect(await first).toEqual({ status: 'stale', httpStatus: status });
      expect(await waiting).toEqual({ status: 'stale' });
      expect(await link.send(message('c', 3))).toEqual({ status: 'stale' });
      expect(calls).toBe(1);
      expect(closes).toStrictEqual([
        { httpStatus: status, reason: `POST send answered HTTP ${status}`, auth: true },
      ]);
    },
  );

  it('a resume POST answered 403 rejects with the status and ends the link as auth', async () => {
    const { link, closes } = open(answer(403));
    await expect(link.resume([{ stream: 's', seq: 0 }])).rejects.toMatchObject({ httpStatus: 403 });
    expect(closes).toStrictEqual([
      { httpStatus: 403, reason: 'POST resume answered HTTP 403', auth: true },
    ]);
  });

  it.each([
    [429, { 'Retry-After': '7' }, 7_000],
    [503, { 'Retry-After': '120' }, 120_000],
    [503, { 'Retry-After': '86400' }, 300_000],
    [429, { 'Retry-After': 'soon' }, undefined],
    [429, {}, undefined],
    [500, { 'Retry-After': '7' }, undefined],
  ])(
    'a send POST answered %i with %o is retry with retryAfterMs %s (capped at 5 minutes)',
    async (status, headers, wait) => {
      const { link } = open(answerText(status, '{}', headers));
      const outcome = await link.send(message('a', 1));
      expect(outcome).toStrictEqual({
        status: 'retry',
        error: new Error(`POST send answered HTTP ${status}`),
        httpStatus: status,
        ...(wait === undefined ? {} : { retryAfterMs: wait }),
      });
    },
  );

  it('a Retry-After that is an HTTP date waits until then', async () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    const { link } = open(answerText(503, '{}', { 'Retry-After': at }));
    const outcome = (await link.send(message('a', 1))) as { retryAfterMs?: number };
    expect(outcome.retryAfterMs).toBeGreaterThan(58_000);
    expect(outcome.retryAfterMs).toBeLessThanOrEqual(60_000);
    const past = open(answerText(503, '{}', { 'Retry-After': new Date(0).toUTCString() }));
    expect(await past.link.send(message('a', 1))).not.toHaveProperty('retryAfterMs');
  });

  it('a resume answered 429 with Retry-After rejects with retryAfterMs', async () => {
    const { link } = open(answerText(429, '{}', { 'Retry-After': '3' }));
    await expect(link.resume([])).rejects.toMatchObject({ httpStatus: 429, retryAfterMs: 3_000 });
  });

  it('the heartbeatMs of the welcome reaches open(); a welcome without one opens without it', () => {
    const withBeat = open(answer(200), {}, {}, { connectionId: 'c1', heartbeatMs: 15_000 });
    expect(withBeat.welcomes).toEqual([[{ heartbeatMs: 15_000 }]]);
    const without = open(answer(200), {}, {}, { connectionId: 'c1' });
    expect(without.welcomes).toEqual([[]]);
  });
});

/** The SSE adapter's mapping from HTTP answers to outcomes, with a fake EventSource and fetch. */
import { describe, expect, it } from 'vitest';
import { sseTransport } from '../adapters/sse.js';
import type { InboundFrame, LinkClose } from '../adapters/transport.js';
import { settle } from './support/settle.js';
import { answer, FakeEventSource, ignored, message, open } from './support/sse-fakes.js';

describe('SSE adapter outcomes', () => {
  const retry = (status: number) => ({
    status: 'retry',
    error: new Error(`POST send answered HTTP ${status}`),
    httpStatus: status,
  });
  it.each([
    [404, { status: 'stale', httpStatus: 404 }],
    [400, { status: 'rejected', error: 'x', httpStatus: 400 }],
    [413, { status: 'rejected', error: 'x', httpStatus: 413 }],
    [422, { status: 'rejected', error: 'x', httpStatus: 422 }],
    [429, retry(429)],
    [500, retry(500)],
    [503, retry(503)],
    [418, retry(418)],
    [302, retry(302)],
  ])('HTTP %i on a send is %o', async (status, expected) => {
    const { link } = open(answer(status, { error: 'x' }));
    expect(await link.send(message('a', 1))).toStrictEqual(expected);
  });

  it('every message of a batch failed as a whole carries the status, and so does a send after it', async () => {
    const { link } = open(answer(503));
    const outcomes = await Promise.all([link.send(message('a', 1)), link.send(message('b', 2))]);
    expect(outcomes).toMatchObject([
      { status: 'retry', httpStatus: 503 },
      { status: 'retry', httpStatus: 503 },
    ]);
    expect(await link.send(message('c', 3))).toMatchObject({
      status: 'retry',
      httpStatus: 503,
    });
  });

  it('a batch refused as a request is resent one by one: the culprit is rejected with its status', async () => {
    const { link } = open(async (_url, init) => {
      const { messages } = JSON.parse(init.body) as { messages: Array<{ id: string }> };
      if (messages.some(({ id }) => id === 'big')) {
        return { status: 413, json: async () => ({ error: 'too big' }) };
      }
      return {
        status: 200,
        json: async () => ({ results: messages.map(({ id }) => ({ id, status: 'ok' })) }),
      };
    });
    const outcomes = await Promise.all([
      link.send(message('a', 1)),
      link.send(message('big', 2)),
      link.send(message('b', 3)),
    ]);
    expect(outcomes).toEqual([
      { status: 'ok' },
      { status: 'rejected', error: 'too big', httpStatus: 413 },
      { status: 'ok' },
    ]);
  });

  it('a network error or a request that takes too long is retry, without a status', async () => {
    const failing = open(async () => {
      throw new TypeError('fetch failed');
    });
    const outcome = await failing.link.send(message('a', 1));
    expect(outcome).toMatchObject({ status: 'retry' });
    expect(outcome).not.toHaveProperty('httpStatus');
    const hanging = open(
      (_url, init) =>
        new Promise((_resolve, reject) =>
          init.signal.addEventListener('abort', () => reject(init.signal.reason)),
        ),
      { requestTimeoutMs: 20 },
    );
    expect(await hanging.link.send(message('b', 1))).toMatchObject({ status: 'retry' });
  });

  it('posts the messages of one step as one batch, in order, with the connection id', async () => {
    const bodies: unknown[] = [];
    const { link } = open(async (url, init) => {
      bodies.push([url, init.headers['X-Connection-ID'], JSON.parse(init.body)]);
      const { messages } = JSON.parse(init.body) as { messages: Array<{ id: string }> };
      return {
        status: 200,
        json: async () => ({ results: messages.map(({ id }) => ({ id, status: 'ok' })) }),
      };
    });
    const outcomes = await Promise.all([
      link.send(message('a', 1, 1)),
      link.send(message('b', 2, 2)),
    ]);
    expect(outcomes).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    // A link without a session (LinkOptions) posts v1's bodies: no serial.
    expect(bodies).toEqual([
      [
        'http://server/sse/send',
        'c1',
        {
          messages: [
            { id: 'a', data: 1 },
            { id: 'b', data: 2 },
          ],
        },
      ],
    ]);
  });

  it('a result missing from a 200 breaks the protocol: that message is stale and the link ends', async () => {
    const { link, closes } = open(
      answer(200, { results: [{ id: 'a', status: 'rejected', error: 'no' }] }),
    );
    const [a, b] = await Promise.all([link.send(message('a', 1)), link.send(message('b', 2))]);
    expect(a).toEqual({ status: 'rejected', error: 'no' });
    expect(b).toEqual({ status: 'stale' });
    expect(closes).toMatchObject([{ protocol: true }]);
  });

  it('the first EventSource error closes the link; 401 is credentials refused; nothing is reported after close()', async () => {
    const first = open(answer(200));
    first.source.emit('error', undefined, 401);
    expect(first.source.closed).toBe(true);
    // An HTTP status, not a WebSocket close code: it goes in httpStatus, never in code.
    expect(first.closes).toStrictEqual([
      { httpStatus: 401, reason: 'the event stream answered HTTP 401', auth: true },
    ]);
    const second = open(answer(200));
    second.link.close();
    second.source.emit('ping', {});
    second.source.emit('error');
    await settle();
    expect(second.seen).toEqual(['open']);
    expect(second.closes).toEqual([]);
  });

  it('results in another order than the messages are matched by id', async () => {
    const { link, closes } = open(
      answer(200, {
        results: [
          { id: 'b', status: 'rejected', error: 'no' },
          { id: 'a', status: 'ok' },
        ],
      }),
    );
    const outcomes = await Promise.all([link.send(message('a', 1)), link.send(message('b', 2))]);
    expect(outcomes).toEqual([{ status: 'ok' }, { status: 'rejected', error: 'no' }]);
    expect(closes).toEqual([]);
  });

  it('results for other ids break the protocol', async () => {
    const { link, closes } = open(answer(200, { results: [{ id: 'zzz', status: 'ok' }] }));
    expect(await link.send(message('a', 1))).toEqual({ status: 'stale' });
    expect(closes).toMatchObject([{ protocol: true }]);
  });

  it.each([500, 404, 429])(
    'an event stream that fails with HTTP %i reports it as httpStatus, neither fatal nor auth',
    (status) => {
      const { source, closes } = open(answer(200));
      source.emit('error', undefined, status);
      expect(closes).toStrictEqual([{ httpStatus: status, reason: 'the event stream failed' }]);
    },
  );

  it('an event stream that fails without a status (network) has no httpStatus and is not fatal', () => {
    const { source, closes } = open(answer(200));
    source.emit('error');
    expect(closes).toStrictEqual([{ reason: 'the event stream failed' }]);
  });

  it.each([404, 500, 401])(
    'a resume answered HTTP %i rejects with an Error carrying httpStatus',
    async (status) => {
      const { link } = open(answer(status));
      const error = await link.resume([{ stream: 'a', seq: 0 }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(`POST resume answered HTTP ${status}`);
      expect((error as { httpStatus?: unknown }).httpStatus).toBe(status);
    },
  );

  it('a resume that fails on the network rejects with that error, without httpStatus', async () => {
    const failure = new TypeError('fetch failed');
    const { link } = open(async () => {
      throw failure;
    });
    await expect(link.resume([{ stream: 'a', seq: 0 }])).rejects.toBe(failure);
  });

  it('an event before welcome is a protocol error that ends the link, as over WebSocket', () => {
    const closes: LinkClose[] = [];
    const frames: InboundFrame[] = [];
    sseTransport({
      url: 'http://server/sse',
      EventSource: FakeEventSource,
      fetch: answer(200),
    }).connect({
      ...ignored(),
      message: (frame) => frames.push(frame),
      close: (info) => closes.push(info),
    });
    const source = FakeEventSource.last as FakeEventSource;
    source.emit('event', { stream: 's', seq: 1, data: 'too early' });
    expect(frames).toEqual([]);
    expect(source.closed).toBe(true);
    expect(closes).toStrictEqual([{ reason: 'an event before welcome', protocol: true }]);
  });

  it('a second welcome is a protocol error that ends the link', async () => {
    const { link, source, seen, closes } = open(answer(200));
    source.emit('welcome', { connectionId: 'c2', heartbeatMs: 1000 });
    expect(source.closed).toBe(true);
    expect(seen).toEqual(['open']);
    expect(closes).toStrictEqual([{ reason: 'a second welcome', protocol: true }]);
    expect(await link.send(message('a', 1))).toEqual({ status: 'stale' });
  });

  it('an event hands the app stream, seq and data only; absent fields stay absent', () => {
    const { source, frames, closes } = open(answer(200));
    source.emit('event', { type: 'event', stream: 's', seq: 1, data: { x: 1 }, extra: 'server' });
    source.emit('event', { data: 'bare', id: 'not for the app' });
    source.emit('event', { stream: 's', data: 'no seq' });
    source.emit('event', { seq: 'seven', data: 'bad seq, checked by the machine' });
    expect(frames).toStrictEqual([
      { stream: 's', seq: 1, data: { x: 1 } },
      { data: 'bare' },
      { stream: 's', data: 'no seq' },
      { seq: 'seven', data: 'bad seq, checked by the machine' },
    ]);
    expect(closes).toEqual([]);
  });

  it('calls the global fetch on its own global, as browsers require ("Illegal invocation")', async () => {
    const saved = globalThis.fetch;
    const strict = function (this: unknown) {
      if (this !== globalThis) throw new TypeError('Illegal invocation');
      return Promise.resolve({
        status: 200,
        json: async () => ({ results: [{ id: 'a', status: 'ok' }] }),
      });
    };
    globalThis.fetch = strict as unknown as typeof fetch;
    try {
      const transport = sseTransport({ url: 'http://server/sse', EventSource: FakeEventSource });
      const link = transport.connect(ignored());
      FakeEventSource.last?.emit('welcome', { connectionId: 'c1', heartbeatMs: 1000 });
      expect(await link.send(message('a', 1))).toEqual({ status: 'ok' });
    } finally {
      globalThis.fetch = saved;
    }
  });

  it('names a bad option', () => {
    expect(() => sseTransport({ url: '', EventSource: FakeEventSource })).toThrow(/url must be/);
    expect(() =>
      sseTransport({ url: 'http://x', EventSource: FakeEventSource, maxBatch: 0 }),
    ).toThrow(/maxBatch must be an integer/);
  });
});

/** The SSE adapter's mapping from HTTP answers to outcomes, with a fake EventSource and fetch. */
import { describe, expect, it } from 'vitest';
import { type FetchLike, sseTransport } from '../adapters/sse.js';
import type { LinkClose, LinkEvents } from '../adapters/transport.js';
import { settle } from './helpers.js';

class FakeEventSource {
  static last: FakeEventSource | undefined;
  readonly listeners = new Map<string, (event: { data?: unknown; code?: number }) => void>();
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.last = this;
  }
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number }) => void) {
    this.listeners.set(type, listener);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data?: object, code?: number) {
    this.listeners.get(type)?.({
      data: data === undefined ? undefined : JSON.stringify(data),
      code,
    });
  }
}

function open(fetch: FetchLike, extra: { requestTimeoutMs?: number } = {}) {
  const seen: string[] = [];
  const closes: LinkClose[] = [];
  const events: LinkEvents = {
    open: () => seen.push('open'),
    message: () => seen.push('message'),
    alive: () => seen.push('alive'),
    close: (info) => closes.push(info),
  };
  const transport = sseTransport({
    url: 'http://server/sse/',
    EventSource: FakeEventSource,
    fetch,
    ...extra,
  });
  const link = transport.connect(events);
  const source = FakeEventSource.last as FakeEventSource;
  source.emit('welcome', { connectionId: 'c1', heartbeatMs: 1000 });
  return { link, source, seen, closes, transport };
}

const answer =
  (status: number, body?: unknown): FetchLike =>
  async () => ({ status, json: async () => body });

describe('SSE adapter outcomes', () => {
  it.each([
    [404, 'stale'],
    [400, 'rejected'],
    [413, 'rejected'],
    [422, 'rejected'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ])('HTTP %i on a send is %s', async (status, expected) => {
    const { link } = open(answer(status, { error: 'x' }));
    expect((await link.send({ id: 'a', data: 1 })).status).toBe(expected);
  });

  it('a network error or a request that takes too long is retry', async () => {
    const failing = open(async () => {
      throw new TypeError('fetch failed');
    });
    expect(await failing.link.send({ id: 'a', data: 1 })).toMatchObject({ status: 'retry' });
    const hanging = open(
      (_url, init) =>
        new Promise((_resolve, reject) =>
          init.signal.addEventListener('abort', () => reject(init.signal.reason)),
        ),
      { requestTimeoutMs: 20 },
    );
    expect(await hanging.link.send({ id: 'b', data: 1 })).toMatchObject({ status: 'retry' });
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
      link.send({ id: 'a', data: 1 }),
      link.send({ id: 'b', data: 2 }),
    ]);
    expect(outcomes).toEqual([{ status: 'ok' }, { status: 'ok' }]);
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
    const [a, b] = await Promise.all([
      link.send({ id: 'a', data: 1 }),
      link.send({ id: 'b', data: 2 }),
    ]);
    expect(a).toEqual({ status: 'rejected', error: 'no' });
    expect(b).toEqual({ status: 'stale' });
    expect(closes).toMatchObject([{ protocol: true }]);
  });

  it('the first EventSource error closes the link; 401 is fatal; nothing is reported after close()', async () => {
    const first = open(answer(200));
    first.source.emit('error', undefined, 401);
    expect(first.source.closed).toBe(true);
    expect(first.closes).toEqual([{ code: 401, reason: 'the event stream failed', fatal: true }]);
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
    const outcomes = await Promise.all([
      link.send({ id: 'a', data: 1 }),
      link.send({ id: 'b', data: 2 }),
    ]);
    expect(outcomes).toEqual([{ status: 'ok' }, { status: 'rejected', error: 'no' }]);
    expect(closes).toEqual([]);
  });

  it('results for other ids break the protocol', async () => {
    const { link, closes } = open(answer(200, { results: [{ id: 'zzz', status: 'ok' }] }));
    expect(await link.send({ id: 'a', data: 1 })).toEqual({ status: 'stale' });
    expect(closes).toMatchObject([{ protocol: true }]);
  });

  it('resume answers other than 200 reject', async () => {
    const { link } = open(answer(404));
    await expect(link.resume([{ stream: 'a', seq: 0 }])).rejects.toThrow(/HTTP 404/);
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
      const link = transport.connect({
        open: () => {},
        message: () => {},
        alive: () => {},
        close: () => {},
      });
      FakeEventSource.last?.emit('welcome', { connectionId: 'c1', heartbeatMs: 1000 });
      expect(await link.send({ id: 'a', data: 1 })).toEqual({ status: 'ok' });
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

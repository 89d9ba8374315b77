/** The SSE adapter's mapping from HTTP answers to outcomes, with a fake EventSource and fetch. */
import { describe, expect, it } from 'vitest';
import { type FetchLike, sseTransport } from '../adapters/sse.js';
import type {
  InboundFrame,
  LinkClose,
  LinkEvents,
  LinkWelcome,
  OutboundMessage,
} from '../adapters/transport.js';
import { settle } from './support/settle.js';

/** A message as the machine hands it over: `json` is the data serialised once, at send(). */
const message = (id: string, data: unknown): OutboundMessage => ({
  id,
  data,
  json: JSON.stringify(data),
});

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
  /** Dispatch an event whose data is this text (or anything), as the server wrote it. */
  emitRaw(type: string, data: unknown) {
    this.listeners.get(type)?.({ data });
  }
}

function open(
  fetch: FetchLike,
  extra: { requestTimeoutMs?: number; url?: string } = {},
  overrides: Partial<LinkEvents> = {},
  welcome: object | null = { connectionId: 'c1', heartbeatMs: 1000 },
) {
  const seen: string[] = [];
  const frames: InboundFrame[] = [];
  const closes: LinkClose[] = [];
  /** The arguments of each `open` call: what the welcome said. */
  const welcomes: Array<[LinkWelcome?]> = [];
  const events: LinkEvents = {
    open: (...args: [LinkWelcome?]) => {
      welcomes.push(args);
      seen.push('open');
    },
    message: (frame) => {
      frames.push(frame);
      seen.push('message');
    },
    alive: () => seen.push('alive'),
    close: (info) => closes.push(info),
    ...overrides,
  };
  const transport = sseTransport({
    url: 'http://server/sse/',
    EventSource: FakeEventSource,
    fetch,
    ...extra,
  });
  const link = transport.connect(events);
  const source = FakeEventSource.last as FakeEventSource;
  if (welcome) source.emit('welcome', welcome);
  return { link, source, seen, frames, closes, welcomes, transport };
}

const answer =
  (status: number, body?: unknown): FetchLike =>
  async () => ({ status, json: async () => body });

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
    const outcomes = await Promise.all([link.send(message('a', 1)), link.send(message('b', 2))]);
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
      open: () => {},
      message: (frame) => frames.push(frame),
      alive: () => {},
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
      const link = transport.connect({
        open: () => {},
        message: () => {},
        alive: () => {},
        close: () => {},
      });
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

/** A JSON text nested `depth` levels deep: `[[[…]]]`. */
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A fetch that answers every POST with `status`, this JSON text as body, and these headers. */
const answerText =
  (status: number, text: string, headers: Record<string, string> = {}): FetchLike =>
  async () => ({ status, json: async () => JSON.parse(text), headers: new Headers(headers) });

/** A fetch that confirms every message it is sent, recording each request. */
function confirming(requests: Array<{ url: string; init: Parameters<FetchLike>[1] }> = []) {
  const fetch: FetchLike = async (url, init) => {
    requests.push({ url, init });
    if (!url.includes('/send'))
      return { status: url.includes('/suspend') ? 204 : 200, json: async () => ({}) };
    const { messages } = JSON.parse(init.body) as { messages: Array<{ id: string }> };
    return {
      status: 200,
      json: async () => ({ results: messages.map(({ id }) => ({ id, status: 'ok' })) }),
    };
  };
  return { fetch, requests };
}

describe('SSE adapter: the data goes on the wire as serialised at send()', () => {
  it('builds the send POST body around each message.json, without serialising data again', async () => {
    const { fetch, requests } = confirming();
    const { link } = open(fetch);
    const data = {
      toJSON() {
        throw new Error('data must not be serialised again by the adapter');
      },
    };
    const outcomes = await Promise.all([
      link.send({ id: 'a', data, json: '{"x":1}' }),
      link.send({ id: 'b"', data, json: '[2,"two"]' }),
    ]);
    expect(outcomes).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(requests.map((r) => r.init.body)).toEqual([
      '{"messages":[{"id":"a","data":{"x":1}},{"id":"b\\"","data":[2,"two"]}]}',
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

  it.each(['open', 'message', 'alive'] as const)(
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

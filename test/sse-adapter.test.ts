/** The SSE adapter's mapping from HTTP answers to outcomes, with a fake EventSource and fetch. */
import { describe, expect, it } from 'vitest';
import { type FetchLike, sseTransport } from '../adapters/sse.js';
import type {
  InboundFrame,
  LinkClose,
  LinkEvents,
  LinkOptions,
  LinkWelcome,
  OutboundMessage,
  StreamHead,
} from '../adapters/transport.js';
import { settle } from './support/settle.js';

/**
 * A message as the machine hands it over: `json` is the data serialised once, at send();
 * `serial` its place in the app's sends (1 unless the test needs others).
 */
const message = (id: string, data: unknown, serial = 1): OutboundMessage => ({
  id,
  serial,
  data,
  json: JSON.stringify(data),
  retry: true,
});

/** Events that ignore everything: for links whose events a test does not look at. */
const ignored = (): LinkEvents => ({
  open: () => {},
  message: () => {},
  alive: () => {},
  stream: () => {},
  close: () => {},
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
  linkOptions?: LinkOptions,
) {
  const seen: string[] = [];
  const frames: InboundFrame[] = [];
  const heads: StreamHead[] = [];
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
    stream: (head) => {
      heads.push(head);
      seen.push('stream');
    },
    close: (info) => closes.push(info),
    ...overrides,
  };
  const transport = sseTransport({
    url: 'http://server/sse/',
    EventSource: FakeEventSource,
    fetch,
    ...extra,
  });
  const link = transport.connect(events, linkOptions);
  const source = FakeEventSource.last as FakeEventSource;
  if (welcome) source.emit('welcome', welcome);
  return { link, source, seen, frames, heads, closes, welcomes, transport };
}

/** Link options as the machine gives them: the connection's session. */
const SESSION: LinkOptions = { session: 'S3ss10n-id_0123456789' };
const SESSION_QUERY = 'session=S3ss10n-id_0123456789&v=2';

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

const V2_WELCOME = { connectionId: 'c1', heartbeatMs: 1000, session: { known: true, handled: 9 } };

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

describe('SSE adapter: a resume waits for its replay (the resumed event)', () => {
  /** A fetch whose resume POSTs wait until the test answers them, with the body it gives. */
  function held() {
    const resumes: Array<{
      body: { streams: unknown; resumeId?: unknown };
      answer: (body: unknown) => void;
    }> = [];
    const fetch: FetchLike = (_url, init) =>
      new Promise((resolve, reject) => {
        init.signal.addEventListener('abort', () => reject(init.signal.reason));
        resumes.push({
          body: JSON.parse(init.body),
          answer: (body) => resolve({ status: 200, json: async () => body }),
        });
      });
    return { fetch, resumes };
  }
  /** Whether a promise has settled yet, and how. */
  const watch = (promise: Promise<void>) => {
    const state = { settled: 'no' as 'no' | 'resolved' | 'rejected', error: undefined as unknown };
    promise.then(
      () => {
        state.settled = 'resolved';
      },
      (error: unknown) => {
        state.settled = 'rejected';
        state.error = error;
      },
    );
    return state;
  };

  it('asks with a resumeId unique on the link: "1", "2", … in the order of the resumes', async () => {
    const { fetch, resumes } = held();
    const { link } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    link.resume([{ stream: 'a', seq: 0 }]);
    link.resume([{ stream: 'b', seq: 3 }]);
    await settle();
    expect(resumes.map((r) => r.body)).toEqual([
      { streams: [{ stream: 'a', seq: 0 }], resumeId: '1' },
      { streams: [{ stream: 'b', seq: 3 }], resumeId: '2' },
    ]);
  });

  it('the marker after the 200: resolves only then, with every replayed event delivered before it', async () => {
    const { fetch, resumes } = held();
    const { link, source, seen, frames } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const resumed = link.resume([{ stream: 'a', seq: 0 }]);
    resumed.then(() => seen.push('resumed'));
    const state = watch(resumed);
    await settle();
    resumes[0]?.answer({ marker: true });
    await settle();
    expect(state.settled).toBe('no');
    source.emit('event', { stream: 'a', seq: 1, data: 'x' });
    source.emit('event', { stream: 'a', seq: 2, data: 'y' });
    await settle();
    expect(state.settled).toBe('no');
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect(state.settled).toBe('resolved');
    expect(frames).toEqual([
      { stream: 'a', seq: 1, data: 'x' },
      { stream: 'a', seq: 2, data: 'y' },
    ]);
    expect(seen).toEqual(['open', 'message', 'message', 'resumed']);
  });

  it('the marker before the 200: resolves at the 200', async () => {
    const { fetch, resumes } = held();
    const { link, source } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    source.emit('event', { stream: 'a', seq: 1, data: 'x' });
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect(state.settled).toBe('no');
    resumes[0]?.answer({ marker: true });
    await settle();
    expect(state.settled).toBe('resolved');
  });

  it('overlapping resumes are each settled by their own marker, in any order', async () => {
    const { fetch, resumes } = held();
    const { link, source } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const first = watch(link.resume([{ stream: 'a', seq: 0 }]));
    const second = watch(link.resume([{ stream: 'b', seq: 0 }]));
    await settle();
    resumes[1]?.answer({ marker: true });
    resumes[0]?.answer({ marker: true });
    source.emit('resumed', { resumeId: '2' });
    await settle();
    expect([first.settled, second.settled]).toEqual(['no', 'resolved']);
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect([first.settled, second.settled]).toEqual(['resolved', 'resolved']);
  });

  it.each([
    ['a v1 server (no session in its welcome) answering {}', { connectionId: 'c1' }, {}],
    ['a server that promises no marker', V2_WELCOME, {}],
    ['a server whose marker field is not true', V2_WELCOME, { marker: 'yes' }],
    ['a server whose answer has no JSON body', V2_WELCOME, undefined],
  ])('%s: resolves at the 200, as before markers', async (_what, welcome, body) => {
    const { fetch, resumes } = held();
    const { link } = open(fetch, {}, {}, welcome, SESSION);
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    resumes[0]?.answer(body);
    await settle();
    expect(state.settled).toBe('resolved');
  });

  it('a marker for no resume in flight is ignored: kept nowhere, settles nothing, ends nothing', async () => {
    const { fetch, resumes } = held();
    const { link, source, closes } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    // Before any resume, for an id never used, and many of them: nothing is kept for later.
    for (let i = 0; i < 1000; i++) source.emit('resumed', { resumeId: String(i) });
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    source.emit('resumed', { resumeId: '2' });
    source.emit('resumed', { resumeId: 'x'.repeat(10_000) });
    resumes[0]?.answer({ marker: true });
    await settle();
    // resumeId "1" came before this resume existed: it was not kept for it.
    expect(state.settled).toBe('no');
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect(state.settled).toBe('resolved');
    // Its marker again, once it is done: ignored too.
    source.emit('resumed', { resumeId: '1' });
    expect(closes).toEqual([]);
  });

  it.each([
    ['without a resumeId', '{}'],
    ['whose resumeId is a number', '{"resumeId":1}'],
    ['whose resumeId is null', '{"resumeId":null}'],
    ['whose data is not JSON', '{nope'],
    ['whose data is not an object', '["1"]'],
  ])('a resumed event %s is a protocol close, never a throw into EventSource', (_what, text) => {
    const { source, closes } = open(confirming().fetch, {}, {}, V2_WELCOME, SESSION);
    expect(() => source.emitRaw('resumed', text)).not.toThrow();
    expect(source.closed).toBe(true);
    expect(closes).toMatchObject([{ protocol: true }]);
  });

  it('a resumed event before welcome is a protocol close', () => {
    const { source, closes } = open(confirming().fetch, {}, {}, null, SESSION);
    source.emit('resumed', { resumeId: '1' });
    expect(closes).toMatchObject([{ protocol: true, reason: 'a resumed event before welcome' }]);
  });

  it('a link that ends while a resume waits for its marker rejects it: closed by the server, or by close()', async () => {
    const { fetch, resumes } = held();
    const dropped = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const byServer = watch(dropped.link.resume([{ stream: 'a', seq: 0 }]));
    const closed = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const byClient = watch(closed.link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    resumes[0]?.answer({ marker: true });
    resumes[1]?.answer({ marker: true });
    await settle();
    expect([byServer.settled, byClient.settled]).toEqual(['no', 'no']);
    dropped.source.emit('error');
    closed.link.close();
    await settle();
    expect([byServer.settled, byClient.settled]).toEqual(['rejected', 'rejected']);
    expect((byServer.error as Error).message).toBe('the event stream is not open');
    // A marker after the end changes nothing and reports nothing.
    dropped.source.emit('resumed', { resumeId: '1' });
    expect(dropped.closes).toHaveLength(1);
  });

  it('a link that ends while the 200 is on its way: the resume rejects, whatever the answer promised', async () => {
    const { fetch, resumes } = held();
    const { link, source } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    source.emit('error');
    resumes[0]?.answer({ marker: true });
    await settle();
    expect(state.settled).toBe('rejected');
  });
});

/**
 * The SSE adapter against hostile servers over real sockets (`node:http`, the `eventsource`
 * package and Node's fetch, 127.0.0.1, port 0): what a server sends or answers never
 * throws into `EventSource` or `fetch`, refusals are understood, the query string of `url`
 * is kept and a redirect is never taken as a confirmation. One link at a time.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type SseTransportOptions, sseTransport } from '../../adapters/sse.js';
import type { Link, LinkEvents, LinkOptions, OutboundMessage } from '../../adapters/transport.js';
import { awaitableEvents } from '../support/link-recorder.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A message as the machine hands it over (`serial` 1 unless the test needs others). */
const message = (id: string, data: unknown, serial = 1): OutboundMessage => ({
  id,
  serial,
  data,
  json: JSON.stringify(data),
  retry: true,
});

/** Link options as the machine gives them: the connection's session. */
const SESSION: LinkOptions = { session: 'S3ss10n-id_0123456789' };

/** A JSON text nested `depth` levels deep: `[[[…]]]`. */
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const WELCOME = 'event: welcome\ndata: {"connectionId":"c1","heartbeatMs":1000}\n\n';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** An HTTP server on 127.0.0.1, port 0, answering with `handle`; every request URL is kept. */
async function httpServer(handle: Handler) {
  const urls: string[] = [];
  const http: Server = createHttpServer((req, res) => {
    urls.push(`${req.method} ${req.url}`);
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  );
  return { origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, urls };
}

/** Answer the event stream with `stream` (kept open); every POST with `post`. */
function sse(stream: string, post: Handler = confirm): Handler {
  return (req, res, body) => {
    if (req.url?.split('?')[0]?.endsWith('/events')) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(stream);
      return;
    }
    post(req, res, body);
  };
}

/** Confirm every message of a send POST; answer any other POST 200 {}. */
const confirm: Handler = (req, res, body) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  if (!req.url?.includes('/send')) return void res.end('{}');
  const { messages } = JSON.parse(body) as { messages: Array<{ id: string }> };
  res.end(JSON.stringify({ results: messages.map(({ id }) => ({ id, status: 'ok' })) }));
};

/** Answer every POST with this status, headers and body text. */
const reply =
  (status: number, text = '{}', headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(text);
  };

/** One link over a real EventSource and fetch, with what it reported and promises for it. */
function link(
  url: string,
  overrides: Partial<LinkEvents> = {},
  options: Partial<SseTransportOptions> = {},
  linkOptions?: LinkOptions,
) {
  const { events, frames, heads, welcomes, closed, framed, opened } = awaitableEvents(overrides);
  const made: Link = sseTransport({ url, EventSource, ...options }).connect(events, linkOptions);
  closers.push(() => made.close());
  return { link: made, frames, heads, welcomes, closed, framed, opened };
}

describe('an SSE server sending events or answers not of the protocol shape (real sockets)', () => {
  it.each([
    ['a connectionId with a hostile toString', '{"connectionId":{"toString":1}}'],
    ['a heartbeatMs of 0', '{"connectionId":"c","heartbeatMs":0}'],
    ['a connectionId 20,000 levels deep', `{"connectionId":${deep(20_000)}}`],
  ])(
    'a welcome with %s: a protocol close, nothing thrown into EventSource',
    async (_what, data) => {
      const { origin } = await httpServer(sse(`event: welcome\ndata: ${data}\n\n`));
      const { closed, welcomes } = link(`${origin}/sse`);
      expect(await closed).toMatchObject({ protocol: true });
      expect(welcomes).toEqual([]);
    },
  );

  it('an event whose stream and seq are 20,000 levels deep reaches the machine, which checks it', async () => {
    const { origin } = await httpServer(
      sse(
        `${WELCOME}event: event\ndata: {"stream":${deep(20_000)},"seq":${deep(20_000)},"data":"d"}\n\n`,
      ),
    );
    const { framed, frames } = link(`${origin}/sse`);
    await framed;
    expect(frames.map((f) => f.data)).toEqual(['d']);
  });

  it('an exception in the machine’s handler becomes a protocol close, never an exception in EventSource', async () => {
    const boom = new Error('the machine exploded');
    const { origin } = await httpServer(sse(WELCOME));
    const { closed } = link(`${origin}/sse`, {
      open: () => {
        throw boom;
      },
    });
    expect(await closed).toMatchObject({ protocol: true, error: boom });
  });

  it.each([
    [
      'a result whose id has a hostile toString',
      '{"results":[{"id":{"toString":1},"status":"ok"}]}',
    ],
    ['a result that is a number', '{"results":[42]}'],
    ['results 20,000 levels deep', `{"results":${deep(20_000)}}`],
  ])(
    'a send answered 200 with %s: the send is stale, the link ends, nothing rejects unhandled',
    async (_what, text) => {
      const { origin } = await httpServer(sse(WELCOME, reply(200, text)));
      const { link: l, opened, closed } = link(`${origin}/sse`);
      await opened;
      expect(await l.send(message('a', 1))).toEqual({ status: 'stale' });
      expect(await closed).toMatchObject({ protocol: true });
    },
  );
});

describe('an SSE server refusing the client (real sockets)', () => {
  it('an event stream answered 401 is credentials refused: auth, with the status', async () => {
    const { origin } = await httpServer(reply(401, '{"error":"unauthorized"}'));
    const { closed } = link(`${origin}/sse`);
    expect(await closed).toStrictEqual({
      httpStatus: 401,
      reason: 'the event stream answered HTTP 401',
      auth: true,
    });
  });

  it('an event stream answered 503 with Retry-After ends the link with retryAfterMs', async () => {
    const { origin } = await httpServer(reply(503, '{"error":"busy"}', { 'Retry-After': '9' }));
    const { closed } = link(`${origin}/sse`);
    expect(await closed).toStrictEqual({
      httpStatus: 503,
      reason: 'the event stream failed',
      retryAfterMs: 9_000,
    });
  });

  it('a send answered 403 ends the link as auth; the send is stale', async () => {
    const { origin } = await httpServer(sse(WELCOME, reply(403, '{"error":"forbidden"}')));
    const { link: l, opened, closed } = link(`${origin}/sse`);
    await opened;
    expect(await l.send(message('a', 1))).toEqual({ status: 'stale', httpStatus: 403 });
    expect(await closed).toStrictEqual({
      httpStatus: 403,
      reason: 'POST send answered HTTP 403',
      auth: true,
    });
  });

  it('a send answered 429 with Retry-After is retry with retryAfterMs', async () => {
    const { origin } = await httpServer(sse(WELCOME, reply(429, '{}', { 'Retry-After': '12' })));
    const { link: l, opened } = link(`${origin}/sse`);
    await opened;
    expect(await l.send(message('a', 1))).toMatchObject({
      status: 'retry',
      httpStatus: 429,
      retryAfterMs: 12_000,
    });
  });

  it('the heartbeatMs of the welcome reaches open()', async () => {
    const { origin } = await httpServer(sse(WELCOME));
    const { opened, welcomes } = link(`${origin}/sse`);
    await opened;
    expect(welcomes).toEqual([[{ heartbeatMs: 1000 }]]);
  });
});

describe('the url of an SSE transport (real sockets)', () => {
  it('keeps its query string on the event stream and on every POST', async () => {
    const { origin, urls } = await httpServer(sse(WELCOME));
    const { link: l, opened } = link(`${origin}/sse?token=t`);
    await opened;
    await l.resume([{ stream: 's', seq: 0 }]);
    expect(await l.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(urls).toEqual([
      'GET /sse/events?token=t',
      'POST /sse/resume?token=t',
      'POST /sse/send?token=t',
    ]);
  });

  it('a send POST redirected to another origin is retry; the other origin never sees it', async () => {
    const elsewhere = await httpServer(confirm);
    const { origin } = await httpServer(
      sse(WELCOME, (_req, res) => {
        res.writeHead(307, { Location: `${elsewhere.origin}/sse/send` });
        res.end();
      }),
    );
    const { link: l, opened } = link(`${origin}/sse`);
    await opened;
    expect(await l.send(message('a', 1))).toMatchObject({ status: 'retry' });
    expect(elsewhere.urls).toEqual([]);
  });
});

describe('protocol v2 over real SSE sockets', () => {
  const V2_WELCOME =
    'event: welcome\ndata: {"connectionId":"c1","heartbeatMs":1000,"session":{"known":false,"handled":0}}\n\n';

  /** A v2 server: replays with a stream event on resume, confirms sends, answers unwatch 204. */
  async function v2Server() {
    const posts: Array<{ url: string; connectionId: unknown; body: unknown }> = [];
    let stream: ServerResponse | undefined;
    const server = await httpServer((req, res, body) => {
      if (req.url?.split('?')[0]?.endsWith('/events')) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(V2_WELCOME);
        stream = res;
        return;
      }
      posts.push({
        url: req.url ?? '',
        connectionId: req.headers['x-connection-id'],
        body: JSON.parse(body),
      });
      if (req.url?.startsWith('/sse/resume')) {
        stream?.write('event: stream\ndata: {"stream":"chat","epoch":"k2f9","head":42}\n\n');
        stream?.write('event: event\ndata: {"stream":"chat","seq":42,"data":"d"}\n\n');
      }
      if (req.url?.startsWith('/sse/unwatch')) return void res.writeHead(204).end();
      confirm(req, res, body);
    });
    return { ...server, posts };
  }

  it('GET B/events carries session=<id>&v=2 after the app’s query; the POSTs carry the app’s query alone', async () => {
    const { origin, urls } = await v2Server();
    const { link: l, opened } = link(`${origin}/sse?token=t`, {}, {}, SESSION);
    await opened;
    await l.resume([{ stream: 's', seq: 0 }]);
    expect(urls).toEqual([
      'GET /sse/events?token=t&session=S3ss10n-id_0123456789&v=2',
      'POST /sse/resume?token=t',
    ]);
  });

  it('session, stream event, serial, epoch and unwatch cross real sockets both ways', async () => {
    const { origin, posts } = await v2Server();
    const { link: l, opened, welcomes, heads, frames } = link(`${origin}/sse`, {}, {}, SESSION);
    await opened;
    expect(welcomes).toEqual([[{ heartbeatMs: 1000, session: { known: false, handled: 0 } }]]);
    await l.resume([{ stream: 'chat', seq: 41, epoch: 'k2f9' }]);
    await vi.waitFor(() => expect(frames).toHaveLength(1));
    expect(heads).toEqual([{ stream: 'chat', epoch: 'k2f9', head: 42 }]);
    expect(frames).toEqual([{ stream: 'chat', seq: 42, data: 'd' }]);
    expect(await l.send(message('m', { x: 1 }, 5))).toEqual({ status: 'ok' });
    l.unwatch?.(['chat']);
    await vi.waitFor(() => expect(posts).toHaveLength(3));
    expect(posts).toEqual([
      {
        url: '/sse/resume',
        connectionId: 'c1',
        body: { streams: [{ stream: 'chat', seq: 41, epoch: 'k2f9' }], resumeId: '1' },
      },
      {
        url: '/sse/send',
        connectionId: 'c1',
        body: { messages: [{ id: 'm', serial: 5, data: { x: 1 } }] },
      },
      { url: '/sse/unwatch', connectionId: 'c1', body: { streams: ['chat'] } },
    ]);
  });

  it.each([
    [
      'a welcome whose session is an array',
      'event: welcome\ndata: {"connectionId":"c1","session":[]}\n\n',
    ],
    [
      'a stream event before welcome',
      'event: stream\ndata: {"stream":"s","epoch":"e","head":0}\n\n',
    ],
    [
      'a stream event whose head is negative',
      `${WELCOME}event: stream\ndata: {"stream":"s","epoch":"e","head":-1}\n\n`,
    ],
    [
      'a stream event whose epoch is 20,000 levels deep',
      `${WELCOME}event: stream\ndata: {"stream":"s","epoch":${deep(20_000)},"head":0}\n\n`,
    ],
  ])('%s: a protocol close, nothing thrown into EventSource', async (_what, text) => {
    const { origin } = await httpServer(sse(text));
    const { closed, heads } = link(`${origin}/sse`, {}, {}, SESSION);
    expect(await closed).toMatchObject({ protocol: true });
    expect(heads).toEqual([]);
  });

  it('a v1 server (no session in its welcome) is posted no unwatch', async () => {
    const { origin, urls } = await httpServer(sse(WELCOME));
    const { link: l, opened } = link(`${origin}/sse`, {}, {}, SESSION);
    await opened;
    l.unwatch?.(['chat']);
    expect(await l.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(urls).toEqual(['GET /sse/events?session=S3ss10n-id_0123456789&v=2', 'POST /sse/send']);
  });
});

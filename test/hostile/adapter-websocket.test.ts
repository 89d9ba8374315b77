/**
 * The WebSocket adapter against hostile servers over real sockets (`ws`, 127.0.0.1, port
 * 0): what a server sends or answers never throws into `ws`'s listeners, refusals are
 * understood, and the inbound frame size is bounded. One link at a time, driven directly.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Link, LinkEvents, LinkOptions, OutboundMessage } from '../../adapters/transport.js';
import { type WebSocketTransportOptions, webSocketTransport } from '../../adapters/websocket.js';
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

/** A `ws` server on 127.0.0.1, port 0, that runs `serve` on each socket; closed after the test. */
async function wsServer(serve: (socket: WebSocket) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', serve);
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
}

/** An HTTP server that answers every upgrade with `response` (raw HTTP), never a socket. */
async function refusingServer(response: string): Promise<string> {
  const http: Server = createHttpServer();
  http.on('upgrade', (_req, socket) => socket.end(response));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  );
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

/** One link over a real `ws` socket, with what it reported and promises for its events. */
function link(
  url: WebSocketTransportOptions['url'],
  options: Partial<WebSocketTransportOptions> = {},
  overrides: Partial<LinkEvents> = {},
  linkOptions?: LinkOptions,
) {
  const { events, frames, heads, welcomes, closed, framed, opened } = awaitableEvents(overrides);
  const made: Link = webSocketTransport({ url, WebSocket, ...options }).connect(
    events,
    linkOptions,
  );
  closers.push(() => made.close());
  return { link: made, frames, heads, welcomes, closed, framed, opened };
}

describe('a WebSocket server sending frames not of the protocol shape (real ws)', () => {
  it.each([
    [
      'a welcome whose connectionId has a hostile toString',
      '{"type":"welcome","connectionId":{"toString":1}}',
    ],
    [
      'a welcome whose heartbeatMs is negative',
      '{"type":"welcome","connectionId":"c","heartbeatMs":-1}',
    ],
    ['a welcome 20,000 levels deep', `{"type":"welcome","connectionId":${deep(20_000)}}`],
    ['a frame 20,000 levels deep', deep(20_000)],
    ['a type with a hostile toString', '{"type":{"toString":1,"valueOf":1}}'],
  ])('%s: a protocol close (1002), nothing thrown into ws', async (_what, text) => {
    let closedWith: number | undefined;
    const url = await wsServer((socket) => {
      socket.on('close', (code) => {
        closedWith = code;
      });
      socket.send(text);
    });
    const { closed, welcomes } = link(url);
    expect(await closed).toMatchObject({ code: 1002, protocol: true });
    expect(welcomes).toEqual([]);
    expect(closedWith === undefined || closedWith === 1002).toBe(true);
  });

  it('an ack whose id is hostile, with a send in flight: the send is stale', async () => {
    const url = await wsServer((socket) => {
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
      socket.on('message', () => socket.send('{"type":"ack","id":{"toString":1}}'));
    });
    const { link: l, closed, opened } = link(url);
    await opened;
    const sent = l.send(message('a', 1));
    expect(await closed).toMatchObject({ code: 1002, protocol: true });
    expect(await sent).toEqual({ status: 'stale' });
  });

  it('an event whose stream and seq are 20,000 levels deep reaches the machine, which checks it', async () => {
    const url = await wsServer((socket) => {
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
      socket.send(`{"type":"event","stream":${deep(20_000)},"seq":${deep(20_000)},"data":"d"}`);
    });
    const { framed, frames } = link(url);
    await framed;
    expect(frames.map((f) => f.data)).toEqual(['d']);
  });

  it('an exception in the machine’s handler becomes a protocol close, never an exception in ws', async () => {
    const boom = new Error('the machine exploded');
    const url = await wsServer((socket) => {
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
    });
    const { closed } = link(
      url,
      {},
      {
        open: () => {
          throw boom;
        },
      },
    );
    expect(await closed).toMatchObject({ code: 1002, protocol: true, error: boom });
  });
});

describe('a WebSocket server refusing the client (real ws)', () => {
  it.each([
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
  ])(
    'an upgrade answered %i is credentials refused: auth, with the status',
    async (status, text) => {
      const url = await refusingServer(
        `HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      const { closed } = link(url);
      expect(await closed).toStrictEqual({
        httpStatus: status,
        reason: `the WebSocket upgrade was answered HTTP ${status}`,
        auth: true,
      });
    },
  );

  it.each([
    [429, 'Too Many Requests', '7', 7_000],
    [503, 'Service Unavailable', '86400', 300_000],
  ])(
    'an upgrade answered %i with Retry-After ends the link with retryAfterMs (capped at 5 minutes)',
    async (status, text, header, wait) => {
      const url = await refusingServer(
        `HTTP/1.1 ${status} ${text}\r\nRetry-After: ${header}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      const { closed } = link(url);
      expect(await closed).toStrictEqual({
        httpStatus: status,
        reason: `the WebSocket upgrade was answered HTTP ${status}`,
        retryAfterMs: wait,
      });
    },
  );

  it.each([4001, 4003])(
    'a close %i after welcome is auth, not fatal; the send in flight is stale',
    async (code) => {
      const url = await wsServer((socket) => {
        socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
        socket.on('message', () => socket.close(code, 'unauthorized'));
      });
      const { link: l, closed, opened } = link(url);
      await opened;
      const sent = l.send(message('a', 1));
      expect(await closed).toStrictEqual({ code, reason: 'unauthorized', auth: true });
      expect(await sent).toEqual({ status: 'stale' });
    },
  );

  it('the heartbeatMs of the welcome reaches open()', async () => {
    const url = await wsServer((socket) => {
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":2500}');
    });
    const { opened, welcomes } = link(url);
    await opened;
    expect(welcomes).toEqual([[{ heartbeatMs: 2500 }]]);
  });
});

describe('the inbound frame size is bounded (real ws)', () => {
  /** What ws reports of a frame over its maxPayload. */
  const tooBig = expect.objectContaining({
    name: 'RangeError',
    code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  });
  /** Wait for whichever comes first: a frame delivered, or the link closed. */
  const first = (l: ReturnType<typeof link>) =>
    Promise.race([l.framed.then(() => 'delivered' as const), l.closed]);

  it('a frame over socketOptions.maxPayload closes the link (ws: 1009); nothing is delivered', async () => {
    const url = await wsServer((socket) => {
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
      socket.send(JSON.stringify({ type: 'event', data: 'x'.repeat(2048) }));
    });
    const l = link(url, { socketOptions: { maxPayload: 1024 } });
    const outcome = await first(l);
    // ws closes the socket with 1009 and reports the abort as 1006, with the error.
    expect(outcome).toMatchObject({ fatal: false, error: tooBig });
    expect(l.frames).toEqual([]);
  });

  it('by default a frame over 16 MiB closes the link (ws alone allows 100 MiB)', async () => {
    const big = 'x'.repeat(16 * 1024 * 1024 + 1);
    const url = await wsServer((socket) => {
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
      socket.send(JSON.stringify({ type: 'event', data: big }));
    });
    const l = link(url);
    expect(await first(l)).toMatchObject({ fatal: false, error: tooBig });
    expect(l.frames).toEqual([]);
  });

  it('socketOptions reach ws: perMessageDeflate: false is honoured', async () => {
    const extensions: string[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket, req) => {
      extensions.push(req.headers['sec-websocket-extensions'] ?? 'none');
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
    });
    closers.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    await link(url).opened;
    await link(url, { socketOptions: { perMessageDeflate: false } }).opened;
    expect(extensions).toEqual([expect.stringContaining('permessage-deflate'), 'none']);
  });
});

describe('protocol v2 over a real ws socket', () => {
  const V2_WELCOME =
    '{"type":"welcome","connectionId":"c","heartbeatMs":1000,"session":{"known":true,"handled":4}}';

  it('the upgrade URL carries session=<id>&v=2 after the app’s own query, as the server reads it', async () => {
    const urls: string[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket, req) => {
      urls.push(req.url ?? '');
      socket.send(V2_WELCOME);
    });
    closers.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws?token=t`;
    await link(url, {}, {}, SESSION).opened;
    await link(async () => url, {}, {}, SESSION).opened;
    await link(url).opened;
    const opened = '/ws?token=t&session=S3ss10n-id_0123456789&v=2';
    expect(urls).toEqual([opened, opened, '/ws?token=t']);
    const query = new URL(urls[0] ?? '', 'http://x').searchParams;
    expect([query.get('token'), query.get('session'), query.get('v')]).toEqual([
      't',
      'S3ss10n-id_0123456789',
      '2',
    ]);
  });

  it('session, stream frame, serial, epoch and unwatch cross a real socket both ways', async () => {
    const received: unknown[] = [];
    const url = await wsServer((socket) => {
      socket.send(V2_WELCOME);
      socket.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as { type: string; id?: string };
        received.push(frame);
        if (frame.type === 'resume') {
          socket.send('{"type":"stream","stream":"chat","epoch":"k2f9","head":42}');
          socket.send('{"type":"event","stream":"chat","seq":42,"data":"d"}');
          socket.send('{"type":"resumed"}');
        }
        if (frame.type === 'send') socket.send(JSON.stringify({ type: 'ack', id: frame.id }));
      });
    });
    const { link: l, opened, welcomes, heads, frames } = link(url, {}, {}, SESSION);
    await opened;
    expect(welcomes).toEqual([[{ heartbeatMs: 1000, session: { known: true, handled: 4 } }]]);
    await l.resume([{ stream: 'chat', seq: 41, epoch: 'k2f9' }]);
    expect(heads).toEqual([{ stream: 'chat', epoch: 'k2f9', head: 42 }]);
    expect(frames).toEqual([{ stream: 'chat', seq: 42, data: 'd' }]);
    expect(await l.send(message('m', { x: 1 }, 5))).toEqual({ status: 'ok' });
    l.unwatch?.(['chat']);
    await vi.waitFor(() => expect(received).toHaveLength(3));
    expect(received).toEqual([
      { type: 'resume', streams: [{ stream: 'chat', seq: 41, epoch: 'k2f9' }] },
      { type: 'send', id: 'm', serial: 5, data: { x: 1 } },
      { type: 'unwatch', streams: ['chat'] },
    ]);
  });

  it.each([
    ['a welcome whose session is null', '{"type":"welcome","connectionId":"c","session":null}'],
    [
      'a welcome whose session.handled is negative',
      '{"type":"welcome","connectionId":"c","session":{"known":true,"handled":-1}}',
    ],
    ['a stream frame before welcome', '{"type":"stream","stream":"s","epoch":"e","head":0}'],
  ])('%s: a protocol close (1002), nothing thrown into ws', async (_what, text) => {
    let closedWith: number | undefined;
    const url = await wsServer((socket) => {
      socket.on('close', (code) => {
        closedWith = code;
      });
      socket.send(text);
    });
    const { closed, welcomes } = link(url, {}, {}, SESSION);
    expect(await closed).toMatchObject({ code: 1002, protocol: true });
    expect(welcomes).toEqual([]);
    await vi.waitFor(() => expect(closedWith).toBe(1002));
  });

  it.each([
    [
      'an epoch of 65 characters',
      `{"type":"stream","stream":"s","epoch":"${'e'.repeat(65)}","head":0}`,
    ],
    [
      'a head 20,000 levels deep',
      `{"type":"stream","stream":"s","epoch":"e","head":${deep(20_000)}}`,
    ],
    [
      'a stream with a hostile toString',
      '{"type":"stream","stream":{"toString":1},"epoch":"e","head":0}',
    ],
  ])(
    'a stream frame with %s after welcome: a protocol close (1002); the send in flight is stale',
    async (_what, text) => {
      const url = await wsServer((socket) => {
        socket.send(V2_WELCOME);
        socket.on('message', () => socket.send(text));
      });
      const { link: l, closed, opened, heads } = link(url, {}, {}, SESSION);
      await opened;
      const sent = l.send(message('a', 1));
      expect(await closed).toMatchObject({ code: 1002, protocol: true });
      expect(await sent).toEqual({ status: 'stale' });
      expect(heads).toEqual([]);
    },
  );

  it('a v1 server (no session in its welcome) is sent no unwatch frame, which it would refuse', async () => {
    const received: string[] = [];
    const url = await wsServer((socket) => {
      socket.send('{"type":"welcome","connectionId":"c","heartbeatMs":1000}');
      socket.on('message', (raw) => {
        received.push(String(raw));
        socket.send('{"type":"ack","id":"a"}');
      });
    });
    const { link: l, opened } = link(url, {}, {}, SESSION);
    await opened;
    l.unwatch?.(['chat']);
    expect(await l.send(message('a', 1, 3))).toEqual({ status: 'ok' });
    expect(received).toEqual(['{"type":"send","id":"a","serial":3,"data":1}']);
  });
});

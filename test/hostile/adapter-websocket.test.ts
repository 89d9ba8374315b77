/**
 * The WebSocket adapter against hostile servers over real sockets (`ws`, 127.0.0.1, port
 * 0): what a server sends or answers never throws into `ws`'s listeners, refusals are
 * understood, and the inbound frame size is bounded. One link at a time, driven directly.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type {
  InboundFrame,
  Link,
  LinkClose,
  LinkEvents,
  LinkWelcome,
  OutboundMessage,
} from '../../adapters/transport.js';
import { type WebSocketTransportOptions, webSocketTransport } from '../../adapters/websocket.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const message = (id: string, data: unknown): OutboundMessage => ({
  id,
  data,
  json: JSON.stringify(data),
});

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
  url: string,
  options: Partial<WebSocketTransportOptions> = {},
  overrides: Partial<LinkEvents> = {},
) {
  const frames: InboundFrame[] = [];
  const welcomes: Array<[LinkWelcome?]> = [];
  let onClose: (info: LinkClose) => void = () => {};
  let onFrame: () => void = () => {};
  let onOpen: () => void = () => {};
  const closed = new Promise<LinkClose>((resolve) => {
    onClose = resolve;
  });
  const framed = new Promise<void>((resolve) => {
    onFrame = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    onOpen = resolve;
  });
  const events: LinkEvents = {
    open: (...args: [LinkWelcome?]) => {
      welcomes.push(args);
      onOpen();
    },
    message: (frame) => {
      frames.push(frame);
      onFrame();
    },
    alive: () => {},
    close: (info) => onClose(info),
    ...overrides,
  };
  const made: Link = webSocketTransport({ url, WebSocket, ...options }).connect(events);
  closers.push(() => made.close());
  return { link: made, frames, welcomes, closed, framed, opened };
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

/** The WebSocket adapter against a fake socket: framing, close codes, stale sends. */
import { describe, expect, it } from 'vitest';
import { CloseCode, isFatalCloseCode as fatalInTable } from '../adapters/protocol.js';
import type {
  InboundFrame,
  LinkClose,
  LinkEvents,
  LinkOptions,
  LinkWelcome,
  OutboundMessage,
  StreamHead,
} from '../adapters/transport.js';
import {
  isFatalCloseCode,
  type WebSocketConstructorLike,
  webSocketTransport,
} from '../adapters/websocket.js';
import { settle } from './support/settle.js';

type Listener = (event: never) => void;

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

class FakeSocket {
  static last: FakeSocket | undefined;
  readyState = 1;
  readonly sent: unknown[] = [];
  /** The text of every frame written, as it went on the wire. */
  readonly raw: string[] = [];
  readonly listeners = new Map<string, Listener>();
  closedWith: number | undefined;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  send(data: string) {
    this.raw.push(data);
    this.sent.push(JSON.parse(data));
  }
  close(code?: number) {
    this.closedWith = code;
  }
  addEventListener(type: string, listener: Listener) {
    this.listeners.set(type, listener);
  }
  receive(frame: object | string) {
    this.receiveData(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }
  /** Deliver a message event whose data is anything (a Buffer, as `ws` gives a binary frame). */
  receiveData(data: unknown) {
    (this.listeners.get('message') as (e: { data: unknown }) => void)({ data });
  }
  serverClose(code: number, reason = '') {
    (this.listeners.get('close') as (e: { code: number; reason: string }) => void)({
      code,
      reason,
    });
  }
}

function open(
  url: string | (() => Promise<string>) = 'ws://x',
  overrides: Partial<LinkEvents> = {},
  WebSocket: WebSocketConstructorLike = FakeSocket,
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
    message: (f) => {
      frames.push(f);
      seen.push(`message ${JSON.stringify(f)}`);
    },
    alive: () => seen.push('alive'),
    stream: (head) => {
      heads.push(head);
      seen.push(`stream ${JSON.stringify(head)}`);
    },
    close: (info) => closes.push(info),
    ...overrides,
  };
  const link = webSocketTransport({ url, WebSocket }).connect(events, linkOptions);
  return {
    link,
    seen,
    frames,
    heads,
    closes,
    welcomes,
    socket: () => FakeSocket.last as FakeSocket,
  };
}

describe('WebSocket adapter', () => {
  it('is open on welcome, not on the socket open; frames map to events', () => {
    const { socket, seen } = open();
    expect(seen).toEqual([]);
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    socket().receive({ type: 'event', stream: 's', seq: 1, data: 'd' });
    socket().receive({ type: 'ping' });
    expect(seen).toEqual(['open', 'message {"stream":"s","seq":1,"data":"d"}', 'alive']);
  });

  it('an event frame hands the app stream, seq and data only; absent fields stay absent', () => {
    const { socket, frames, closes } = open();
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    socket().receive({ type: 'event', stream: 's', seq: 1, data: { x: 1 }, extra: 'server' });
    socket().receive({ type: 'event', data: 'bare', id: 'not for the app' });
    socket().receive({ type: 'event', stream: 's', data: 'no seq' });
    socket().receive({ type: 'event', seq: 'seven', data: 'bad seq, checked by the machine' });
    expect(frames).toStrictEqual([
      { stream: 's', seq: 1, data: { x: 1 } },
      { data: 'bare' },
      { stream: 's', data: 'no seq' },
      { seq: 'seven', data: 'bad seq, checked by the machine' },
    ]);
    expect(frames.map((f) => Object.keys(f))).toEqual([
      ['stream', 'seq', 'data'],
      ['data'],
      ['stream', 'data'],
      ['seq', 'data'],
    ]);
    expect(closes).toEqual([]);
  });

  it.each(['null', '42', '"x"', '[]'])(
    'a frame of valid JSON that is not an object (%s) is a protocol error, never a throw',
    (text) => {
      const { socket, closes } = open();
      socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
      expect(() => socket().receive(text)).not.toThrow();
      expect(socket().closedWith).toBe(CloseCode.protocolError);
      expect(closes).toEqual([
        { code: 1002, reason: 'not a JSON object from the server', protocol: true },
      ]);
    },
  );

  it('a second welcome is a protocol error that ends the link (close 1002)', () => {
    const { link, socket, seen, closes } = open();
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    const pending = link.send(message('a', 1));
    socket().receive({ type: 'welcome', connectionId: 'd', heartbeatMs: 10 });
    expect(seen).toEqual(['open']);
    expect(socket().closedWith).toBe(CloseCode.protocolError);
    expect(closes).toEqual([{ code: 1002, reason: 'a second welcome', protocol: true }]);
    return expect(pending).resolves.toEqual({ status: 'stale' });
  });

  it('acks and nacks settle their sends; a close makes the rest stale', async () => {
    const { link, socket } = open();
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    const a = link.send(message('a', 1, 1));
    const b = link.send(message('b', 2, 2));
    const c = link.send(message('c', 3, 3));
    // A link without a session (LinkOptions) writes v1's frames: no serial.
    expect(socket().sent).toEqual([
      { type: 'send', id: 'a', data: 1 },
      { type: 'send', id: 'b', data: 2 },
      { type: 'send', id: 'c', data: 3 },
    ]);
    socket().receive({ type: 'ack', id: 'a' });
    socket().receive({ type: 'nack', id: 'b', error: 'no' });
    socket().serverClose(1006);
    expect(await Promise.all([a, b, c])).toEqual([
      { status: 'ok' },
      { status: 'rejected', error: 'no' },
      { status: 'stale' },
    ]);
  });

  it('an ack out of send order settles its own send; an ack repeated is a protocol error', async () => {
    const { link, socket, closes } = open();
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    const a = link.send(message('a', 1));
    const b = link.send(message('b', 2));
    socket().receive({ type: 'ack', id: 'b' });
    expect(await b).toEqual({ status: 'ok' });
    socket().receive({ type: 'ack', id: 'a' });
    expect(await a).toEqual({ status: 'ok' });
    expect(closes).toEqual([]);
    socket().receive({ type: 'ack', id: 'a' });
    expect(closes).toEqual([
      { code: 1002, reason: 'ack for a message not in flight', protocol: true },
    ]);
  });

  it('a link that is never idle settles every send across thousands of acks', async () => {
    const { link, socket } = open();
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    const outcomes: Array<Promise<unknown>> = [];
    // Always one send ahead of the acks, so the unconfirmed list never empties.
    outcomes.push(link.send(message('m0', 0)));
    for (let i = 1; i <= 3000; i++) {
      outcomes.push(link.send(message(`m${i}`, i)));
      socket().receive({ type: 'ack', id: `m${i - 1}` });
    }
    socket().serverClose(1006);
    const settled = await Promise.all(outcomes);
    expect(settled.slice(0, 3000).every((o) => (o as { status: string }).status === 'ok')).toBe(
      true,
    );
    expect(settled[3000]).toEqual({ status: 'stale' });
  });

  it('resumes are answered in order by resumed', async () => {
    const { link, socket } = open();
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    const order: string[] = [];
    void link.resume([{ stream: 'a', seq: 1 }]).then(() => order.push('first'));
    void link.resume([{ stream: 'b', seq: 0 }]).then(() => order.push('second'));
    socket().receive({ type: 'resumed' });
    socket().receive({ type: 'resumed' });
    await settle();
    expect(order).toEqual(['first', 'second']);
  });

  it('close codes 4000–4099 are fatal, others are not', () => {
    // Still public from holdfast/websocket; the range lives in the wire table.
    expect(isFatalCloseCode).toBe(fatalInTable);
    expect([3999, 4000, 4099, 4100, 1006, undefined].map(isFatalCloseCode)).toEqual([
      false,
      true,
      true,
      false,
      false,
      false,
    ]);
    const { socket, closes } = open();
    socket().serverClose(4000, 'version');
    expect(closes).toEqual([{ code: 4000, reason: 'version', fatal: true }]);
  });

  it('a malformed frame is a protocol error that closes the link', () => {
    const { socket, closes } = open();
    socket().receive('{nope');
    expect(socket().closedWith).toBe(1002);
    expect(closes).toEqual([
      { code: 1002, reason: 'malformed JSON from the server', protocol: true },
    ]);
  });

  it('after close() nothing is reported', () => {
    const { link, socket, seen, closes } = open();
    link.close();
    socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10 });
    socket().serverClose(1000);
    expect([seen, closes, socket().closedWith]).toEqual([[], [], 1000]);
  });

  it('an async url is awaited on every attempt; a failing one closes the link', async () => {
    const good = open(async () => 'ws://fresh-token');
    await settle();
    expect(good.socket().url).toBe('ws://fresh-token');
    const bad = open(async () => {
      throw new Error('no token');
    });
    await settle();
    expect(bad.closes).toMatchObject([{ reason: 'the url function failed' }]);
  });
});

/** A JSON text nested `depth` levels deep: `[[[…]]]`. */
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const WELCOME = { type: 'welcome', connectionId: 'c', heartbeatMs: 10 };
/** Link options as the machine gives them: the connection's session. */
const SESSION: LinkOptions = { session: 'S3ss10n-id_0123456789' };
const SESSION_QUERY = 'session=S3ss10n-id_0123456789&v=2';

describe('WebSocket adapter: the data goes on the wire as serialised at send()', () => {
  it('writes message.json between the frame fields, without serialising data again', async () => {
    const { link, socket } = open(undefined, {}, FakeSocket, SESSION);
    socket().receive(WELCOME);
    const data = {
      toJSON() {
        throw new Error('data must not be serialised again by the adapter');
      },
    };
    const pending = link.send({
      id: 'a"b',
      serial: 7,
      data,
      json: '{"text":"hi","n":[1,2]}',
      retry: true,
    });
    expect(socket().raw).toEqual([
      '{"type":"send","id":"a\\"b","serial":7,"data":{"text":"hi","n":[1,2]}}',
    ]);
    socket().receive({ type: 'ack', id: 'a"b' });
    expect(await pending).toEqual({ status: 'ok' });
  });
});

describe('WebSocket adapter: a frame not of the protocol shape is a protocol close, never a throw', () => {
  const hostile: Array<[string, string]> = [
    ['a welcome whose connectionId is a number', '{"type":"welcome","connectionId":42}'],
    [
      'a welcome whose connectionId has a hostile toString',
      '{"type":"welcome","connectionId":{"toString":1}}',
    ],
    ['a welcome without a connectionId', '{"type":"welcome","heartbeatMs":10}'],
    [
      'a welcome whose heartbeatMs is a string',
      '{"type":"welcome","connectionId":"c","heartbeatMs":"10"}',
    ],
    ['a welcome whose heartbeatMs is 0', '{"type":"welcome","connectionId":"c","heartbeatMs":0}'],
    [
      'a welcome whose heartbeatMs is negative',
      '{"type":"welcome","connectionId":"c","heartbeatMs":-5}',
    ],
    [
      'a welcome whose heartbeatMs is infinite',
      '{"type":"welcome","connectionId":"c","heartbeatMs":1e400}',
    ],
    [
      'a welcome whose heartbeatMs has a hostile toString',
      '{"type":"welcome","connectionId":"c","heartbeatMs":{"toString":1,"valueOf":1}}',
    ],
    ['a welcome 20,000 levels deep', `{"type":"welcome","connectionId":${deep(20_000)}}`],
    ['a type 20,000 levels deep', `{"type":${deep(20_000)}}`],
    ['a type with a hostile toString', '{"type":{"toString":1}}'],
  ];
  it.each(hostile)('%s', (_what, text) => {
    const { socket, seen, closes } = open();
    expect(() => socket().receive(text)).not.toThrow();
    expect(seen).toEqual([]);
    expect(socket().closedWith).toBe(CloseCode.protocolError);
    expect(closes).toMatchObject([{ code: 1002, protocol: true }]);
  });

  const afterWelcome: Array<[string, string]> = [
    ['an ack whose id is an object with a hostile toString', '{"type":"ack","id":{"toString":1}}'],
    ['a nack whose id is a number', '{"type":"nack","id":7,"error":"no"}'],
    ['an ack whose id is 20,000 levels deep', `{"type":"ack","id":${deep(20_000)}}`],
    ['a frame 20,000 levels deep', deep(20_000)],
  ];
  it.each(afterWelcome)('%s, while a send is in flight: the send is stale', async (_what, text) => {
    const { link, socket, closes } = open();
    socket().receive(WELCOME);
    const pending = link.send(message('a', 1));
    expect(() => socket().receive(text)).not.toThrow();
    expect(closes).toMatchObject([{ code: 1002, protocol: true }]);
    expect(await pending).toEqual({ status: 'stale' });
  });

  it('a binary frame is a protocol close', () => {
    const { socket, closes } = open();
    socket().receive(WELCOME);
    expect(() => socket().receiveData(new Uint8Array([123, 125]))).not.toThrow();
    expect(closes).toEqual([
      { code: 1002, reason: 'a binary frame from the server', protocol: true },
    ]);
  });

  it('a nack whose error is hostile or deeply nested rejects with it as it came, without calling it', async () => {
    const { link, socket, closes } = open();
    socket().receive(WELCOME);
    const a = link.send(message('a', 1));
    const b = link.send(message('b', 2));
    socket().receive('{"type":"nack","id":"a","error":{"toString":1,"valueOf":1,"message":{}}}');
    socket().receive(`{"type":"nack","id":"b","error":${deep(20_000)}}`);
    expect(await a).toEqual({
      status: 'rejected',
      error: { toString: 1, valueOf: 1, message: {} },
    });
    const rejected = (await b) as { status: string; error: unknown };
    expect(rejected.status).toBe('rejected');
    expect(Array.isArray(rejected.error)).toBe(true);
    expect(closes).toEqual([]);
  });

  it('an event whose stream and seq are 20,000 levels deep or hostile is handed to the machine, which checks it', () => {
    const { socket, frames, closes } = open(undefined, {
      message: (frame) => frames.push(frame),
    });
    socket().receive(WELCOME);
    socket().receive(`{"type":"event","stream":${deep(20_000)},"seq":${deep(20_000)},"data":1}`);
    socket().receive('{"type":"event","stream":{"toString":1},"seq":{"valueOf":1},"data":2}');
    expect(frames.map((f) => f.data)).toEqual([1, 2]);
    expect(closes).toEqual([]);
  });

  it.each(['open', 'message', 'alive', 'stream'] as const)(
    'an exception in the machine’s %s handler is a protocol close of the link, never a throw into the socket',
    (which) => {
      const boom = new Error(`${which} exploded`);
      const { socket, closes } = open(undefined, {
        [which]: () => {
          throw boom;
        },
      });
      expect(() => {
        socket().receive(WELCOME);
        socket().receive({ type: 'event', data: 1 });
        socket().receive({ type: 'stream', stream: 's', epoch: 'e', head: 0 });
        socket().receive({ type: 'ping' });
      }).not.toThrow();
      expect(socket().closedWith).toBe(CloseCode.protocolError);
      expect(closes).toEqual([
        {
          code: 1002,
          reason: `handling a frame failed: ${which} exploded`,
          protocol: true,
          error: boom,
        },
      ]);
    },
  );

  it('a close event that is not an object, or whose handler throws, never throws into the socket', () => {
    const { socket, closes } = open(undefined, {
      close: () => {
        throw new Error('close exploded');
      },
    });
    expect(() =>
      (socket().listeners.get('close') as unknown as (e: unknown) => void)(null),
    ).not.toThrow();
    expect(closes).toEqual([]);
  });
});

describe('WebSocket adapter: after a write of a batch fails, nothing more of it is written (R1)', () => {
  class FailingSecondWrite extends FakeSocket {
    writes = 0;
    override send(data: string) {
      if (++this.writes === 2) throw new Error('write failed');
      super.send(data);
    }
  }

  it('the failed send and every send after it answer retry without being written', async () => {
    const { link, socket } = open(undefined, {}, FailingSecondWrite);
    socket().receive(WELCOME);
    const a = link.send(message('a', 1));
    const b = link.send(message('b', 2));
    const c = link.send(message('c', 3));
    await settle();
    const d = link.send(message('d', 4));
    link.suspend?.([]);
    expect(socket().sent).toEqual([{ type: 'send', id: 'a', data: 1 }]);
    expect(await b).toMatchObject({ status: 'retry', error: new Error('write failed') });
    expect(await c).toMatchObject({ status: 'retry' });
    expect(await d).toMatchObject({ status: 'retry' });
    await expect(link.resume([])).rejects.toThrow(/write on this WebSocket failed/);
    socket().receive({ type: 'ack', id: 'a' });
    expect(await a).toEqual({ status: 'ok' });
  });

  it('a resume whose write throws rejects and is not left waiting for a resumed', async () => {
    class FailingFirstWrite extends FakeSocket {
      writes = 0;
      override send(data: string) {
        if (++this.writes === 1) throw new Error('write failed');
        super.send(data);
      }
    }
    const { link, socket, closes } = open(undefined, {}, FailingFirstWrite);
    socket().receive(WELCOME);
    await expect(link.resume([{ stream: 's', seq: 0 }])).rejects.toThrow('write failed');
    socket().receive({ type: 'resumed' });
    expect(closes).toMatchObject([{ reason: 'resumed without a resume', protocol: true }]);
  });
});

describe('WebSocket adapter: refusals and the welcome are understood', () => {
  it.each([4001, 4003])('close %i is credentials refused: auth, not fatal', (code) => {
    const { socket, closes } = open();
    socket().receive(WELCOME);
    socket().serverClose(code, 'unauthorized');
    expect(closes).toStrictEqual([{ code, reason: 'unauthorized', auth: true }]);
  });

  it.each([4000, 4002, 4099])('close %i stays fatal', (code) => {
    const { socket, closes } = open();
    socket().serverClose(code, 'go away');
    expect(closes).toStrictEqual([{ code, reason: 'go away', fatal: true }]);
  });

  it('sends in flight when credentials are refused answer stale', async () => {
    const { link, socket } = open();
    socket().receive(WELCOME);
    const pending = link.send(message('a', 1));
    socket().serverClose(4001, 'unauthorized');
    expect(await pending).toEqual({ status: 'stale' });
  });

  it('the heartbeatMs of the welcome reaches open(); a welcome without one opens without it', () => {
    const withBeat = open();
    withBeat.socket().receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 15_000 });
    expect(withBeat.welcomes).toEqual([[{ heartbeatMs: 15_000 }]]);
    const without = open();
    without.socket().receive({ type: 'welcome', connectionId: 'c' });
    expect(without.welcomes).toEqual([[]]);
  });
});

describe('WebSocket adapter: constructor options (the third argument)', () => {
  const calls: unknown[][] = [];
  class SpySocket extends FakeSocket {
    constructor(...args: [string, (string | string[])?, object?]) {
      super(args[0]);
      calls.push(args);
    }
  }
  const connect = (options: object) => {
    calls.length = 0;
    webSocketTransport({ url: 'ws://x', ...options }).connect({
      open: () => {},
      message: () => {},
      alive: () => {},
      stream: () => {},
      close: () => {},
    });
    return calls[0];
  };

  it('with a WebSocket option, maxPayload defaults to 16 MiB and socketOptions are merged over it', () => {
    expect(connect({ WebSocket: SpySocket })).toEqual([
      'ws://x',
      undefined,
      { maxPayload: 16 * 1024 * 1024 },
    ]);
    expect(
      connect({
        WebSocket: SpySocket,
        protocols: 'p',
        socketOptions: { perMessageDeflate: false },
      }),
    ).toEqual(['ws://x', 'p', { maxPayload: 16 * 1024 * 1024, perMessageDeflate: false }]);
    expect(connect({ WebSocket: SpySocket, socketOptions: { maxPayload: 1024 } })).toEqual([
      'ws://x',
      undefined,
      { maxPayload: 1024 },
    ]);
  });

  it('with the global WebSocket, a third argument is passed only when socketOptions is set', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    global.WebSocket = SpySocket;
    try {
      expect(connect({})).toEqual(['ws://x', undefined]);
      expect(connect({ socketOptions: { maxPayload: 5 } })).toEqual([
        'ws://x',
        undefined,
        { maxPayload: 5 },
      ]);
    } finally {
      global.WebSocket = saved;
    }
  });

  it('names socketOptions that are not an object', () => {
    expect(() =>
      webSocketTransport({ url: 'ws://x', WebSocket: SpySocket, socketOptions: 5 as never }),
    ).toThrow(/socketOptions must be an object/);
  });
});

describe('WebSocket adapter, protocol v2: the session in the URL', () => {
  it.each([
    ['ws://x', `ws://x?${SESSION_QUERY}`],
    ['ws://h/ws?token=t&x=1', `ws://h/ws?token=t&x=1&${SESSION_QUERY}`],
    ['ws://h/ws?', `ws://h/ws?${SESSION_QUERY}`],
    ['ws://h/ws?token=t&', `ws://h/ws?token=t&${SESSION_QUERY}`],
    ['ws://h/ws?token=t#frag', `ws://h/ws?token=t&${SESSION_QUERY}#frag`],
  ])('%s is opened as %s, the app’s own query kept', (url, opened) => {
    const { socket } = open(url, {}, FakeSocket, SESSION);
    expect(socket().url).toBe(opened);
  });

  it('a url function’s URL gets the session too, on every attempt', async () => {
    let calls = 0;
    const url = async () => `ws://h/ws?token=t${++calls}`;
    const first = open(url, {}, FakeSocket, SESSION);
    await settle();
    expect(first.socket().url).toBe(`ws://h/ws?token=t1&${SESSION_QUERY}`);
    const second = open(url, {}, FakeSocket, SESSION);
    await settle();
    expect(second.socket().url).toBe(`ws://h/ws?token=t2&${SESSION_QUERY}`);
  });

  it('a session id is put in the query encoded', () => {
    const { socket } = open('ws://x', {}, FakeSocket, { session: 'a b&c=d' });
    expect(socket().url).toBe('ws://x?session=a%20b%26c%3Dd&v=2');
  });

  it('without link options (a caller of the v1 contract) the URL is the app’s, untouched', () => {
    const { socket } = open('ws://h/ws?token=t');
    expect(socket().url).toBe('ws://h/ws?token=t');
  });
});

describe('WebSocket adapter, protocol v2: serials and epochs on the wire', () => {
  it('on a link opened with a session, a send carries its serial between the id and the data', () => {
    const { link, socket } = open(undefined, {}, FakeSocket, SESSION);
    socket().receive(WELCOME);
    void link.send(message('a', { x: 1 }, 1835));
    expect(socket().raw).toEqual(['{"type":"send","id":"a","serial":1835,"data":{"x":1}}']);
  });

  it('on a link opened without a session, a send carries no serial (a v2 server refuses one there)', () => {
    const { link, socket } = open();
    socket().receive(WELCOME);
    void link.send(message('a', { x: 1 }, 1835));
    expect(socket().raw).toEqual(['{"type":"send","id":"a","data":{"x":1}}']);
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 53, undefined, '3'])(
    'a message whose serial is %s (not an integer ≥ 1) goes out as in v1, without one',
    (serial) => {
      const { link, socket } = open(undefined, {}, FakeSocket, SESSION);
      socket().receive(WELCOME);
      void link.send({ id: 'a', serial: serial as number, data: 1, json: '1', retry: true });
      expect(socket().raw).toEqual(['{"type":"send","id":"a","data":1}']);
    },
  );

  it('resume and suspend carry each position’s epoch where there is one, and nothing else', () => {
    const { link, socket } = open();
    socket().receive(WELCOME);
    const positions = [
      { stream: 'a', seq: 41, epoch: 'k2f9' },
      { stream: 'b', seq: 0 },
      { stream: 'c', seq: 3, epoch: undefined, extra: 'not for the wire' },
    ];
    void link.resume(positions);
    link.suspend?.(positions);
    const streams =
      '[{"stream":"a","seq":41,"epoch":"k2f9"},{"stream":"b","seq":0},{"stream":"c","seq":3}]';
    expect(socket().raw).toEqual([
      `{"type":"resume","streams":${streams}}`,
      `{"type":"suspend","streams":${streams}}`,
    ]);
  });
});

describe('WebSocket adapter, protocol v2: the welcome’s session', () => {
  it('is checked and handed to open() with the heartbeat; without one, open() gets none', () => {
    const v2 = open();
    v2.socket().receive({
      ...WELCOME,
      session: { known: true, handled: 1834, extra: 'not for the machine' },
    });
    expect(v2.welcomes).toStrictEqual([
      [{ heartbeatMs: 10, session: { known: true, handled: 1834 } }],
    ]);
    const bare = open();
    bare
      .socket()
      .receive({ type: 'welcome', connectionId: 'c', session: { known: false, handled: 0 } });
    expect(bare.welcomes).toStrictEqual([[{ session: { known: false, handled: 0 } }]]);
    const v1 = open();
    v1.socket().receive(WELCOME);
    expect(v1.welcomes).toStrictEqual([[{ heartbeatMs: 10 }]]);
    expect([v2.closes, bare.closes, v1.closes]).toEqual([[], [], []]);
  });

  it.each([
    ['null', null, 'a welcome whose session is not an object'],
    ['an array', [true, 1], 'a welcome whose session is not an object'],
    ['a string', 'known', 'a welcome whose session is not an object'],
    ['known missing', { handled: 1 }, 'a welcome whose session.known is not a boolean'],
    [
      'known a string',
      { known: 'yes', handled: 1 },
      'a welcome whose session.known is not a boolean',
    ],
    ['handled missing', { known: true }, 'a welcome whose session.handled is not an integer ≥ 0'],
    [
      'handled negative',
      { known: true, handled: -1 },
      'a welcome whose session.handled is not an integer ≥ 0',
    ],
    [
      'handled a fraction',
      { known: true, handled: 1.5 },
      'a welcome whose session.handled is not an integer ≥ 0',
    ],
    [
      'handled past 2^53',
      { known: true, handled: 2 ** 53 },
      'a welcome whose session.handled is not an integer ≥ 0',
    ],
    [
      'handled a string',
      { known: true, handled: '3' },
      'a welcome whose session.handled is not an integer ≥ 0',
    ],
  ])('a session that is %s is a protocol close; the link never opens', (_what, session, reason) => {
    const { socket, welcomes, closes } = open();
    expect(() => socket().receive({ ...WELCOME, session })).not.toThrow();
    expect(welcomes).toEqual([]);
    expect(socket().closedWith).toBe(CloseCode.protocolError);
    expect(closes).toStrictEqual([{ code: 1002, reason, protocol: true }]);
  });
});

describe('WebSocket adapter, protocol v2: the stream frame', () => {
  it('is checked and handed to stream() as { stream, epoch, head } only, in order with events', () => {
    const { socket, seen, heads, closes } = open();
    socket().receive(WELCOME);
    socket().receive({ type: 'stream', stream: 'chat', epoch: 'k2f9', head: 57, extra: 1 });
    socket().receive({ type: 'event', stream: 'chat', seq: 1, data: 'd' });
    socket().receive({ type: 'stream', stream: 'x'.repeat(256), epoch: 'e'.repeat(64), head: 0 });
    expect(heads).toStrictEqual([
      { stream: 'chat', epoch: 'k2f9', head: 57 },
      { stream: 'x'.repeat(256), epoch: 'e'.repeat(64), head: 0 },
    ]);
    expect(seen.slice(0, 3)).toEqual([
      'open',
      'stream {"stream":"chat","epoch":"k2f9","head":57}',
      'message {"stream":"chat","seq":1,"data":"d"}',
    ]);
    expect(closes).toEqual([]);
  });

  it('before welcome is a protocol close', () => {
    const { socket, heads, closes } = open();
    socket().receive({ type: 'stream', stream: 's', epoch: 'e', head: 0 });
    expect(heads).toEqual([]);
    expect(closes).toStrictEqual([
      { code: 1002, reason: 'a stream frame before welcome', protocol: true },
    ]);
  });

  const stream = 'a stream frame whose stream is not a name of 1–256 characters';
  const epoch = 'a stream frame whose epoch is not a string of 1–64 characters';
  const head = 'a stream frame whose head is not an integer ≥ 0';
  it.each([
    ['no stream', { epoch: 'e', head: 0 }, stream],
    ['an empty stream', { stream: '', epoch: 'e', head: 0 }, stream],
    ['a stream of 257 characters', { stream: 'x'.repeat(257), epoch: 'e', head: 0 }, stream],
    ['a stream that is a number', { stream: 7, epoch: 'e', head: 0 }, stream],
    ['no epoch', { stream: 's', head: 0 }, epoch],
    ['an empty epoch', { stream: 's', epoch: '', head: 0 }, epoch],
    ['an epoch of 65 characters', { stream: 's', epoch: 'e'.repeat(65), head: 0 }, epoch],
    ['an epoch that is an object', { stream: 's', epoch: { toString: 1 }, head: 0 }, epoch],
    ['no head', { stream: 's', epoch: 'e' }, head],
    ['a negative head', { stream: 's', epoch: 'e', head: -1 }, head],
    ['a fractional head', { stream: 's', epoch: 'e', head: 0.5 }, head],
    ['a head past 2^53', { stream: 's', epoch: 'e', head: 2 ** 53 }, head],
    ['a head that is a string', { stream: 's', epoch: 'e', head: '5' }, head],
  ])(
    'with %s is a protocol close, with the send in flight stale',
    async (_what, fields, reason) => {
      const { link, socket, heads, closes } = open();
      socket().receive(WELCOME);
      const pending = link.send(message('a', 1));
      expect(() => socket().receive({ type: 'stream', ...fields })).not.toThrow();
      expect(heads).toEqual([]);
      expect(socket().closedWith).toBe(CloseCode.protocolError);
      expect(closes).toStrictEqual([{ code: 1002, reason, protocol: true }]);
      expect(await pending).toEqual({ status: 'stale' });
    },
  );
});

describe('WebSocket adapter, protocol v2: unwatch', () => {
  const V2_WELCOME = { ...WELCOME, session: { known: false, handled: 0 } };

  it('writes {"type":"unwatch","streams":[…]} to a v2 server; nothing for an empty list', () => {
    const { link, socket } = open();
    socket().receive(V2_WELCOME);
    link.unwatch?.(['chat', 'news']);
    link.unwatch?.([]);
    expect(socket().raw).toEqual(['{"type":"unwatch","streams":["chat","news"]}']);
  });

  it('tells a v1 server (a welcome without session) nothing: it would close on an unknown frame', () => {
    const { link, socket } = open();
    socket().receive(WELCOME);
    link.unwatch?.(['chat']);
    expect(socket().raw).toEqual([]);
  });

  it('writes nothing before welcome, after close, or after a write failed', async () => {
    class FailingFirstWrite extends FakeSocket {
      override send(data: string): void {
        if (this.raw.length === 0 && !data.includes('"unwatch"')) throw new Error('write failed');
        super.send(data);
      }
    }
    const early = open();
    early.link.unwatch?.(['chat']);
    expect(early.socket().raw).toEqual([]);
    const closed = open();
    closed.socket().receive(V2_WELCOME);
    closed.link.close();
    closed.link.unwatch?.(['chat']);
    expect(closed.socket().raw).toEqual([]);
    const failed = open(undefined, {}, FailingFirstWrite);
    failed.socket().receive(V2_WELCOME);
    expect(await failed.link.send(message('a', 1))).toMatchObject({ status: 'retry' });
    failed.link.unwatch?.(['chat']);
    expect(failed.socket().raw).toEqual([]);
  });

  it('a write that throws is swallowed: fire-and-forget', () => {
    class Throwing extends FakeSocket {
      override send(): void {
        throw new Error('write failed');
      }
    }
    const { link, socket, closes } = open(undefined, {}, Throwing);
    socket().receive(V2_WELCOME);
    expect(() => link.unwatch?.(['chat'])).not.toThrow();
    expect(closes).toEqual([]);
  });
});

/**
 * The WebSocket adapter, protocol v2: the session in the URL, serials and epochs on the wire,
 * the welcome's session, the stream frame and unwatch.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../adapters/protocol.js';
import { settle } from './support/settle.js';
import {
  FakeSocket,
  message,
  open,
  SESSION,
  SESSION_QUERY,
  WELCOME,
} from './support/websocket-fakes.js';

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

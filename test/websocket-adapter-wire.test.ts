/**
 * The WebSocket adapter on the wire: the data as serialised at send(), frames not of the
 * protocol shape, a failed write of a batch (R1), refusals and the welcome, constructor options.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../adapters/protocol.js';
import { webSocketTransport } from '../adapters/websocket.js';
import { settle } from './support/settle.js';
import { deep, FakeSocket, message, open, SESSION, WELCOME } from './support/websocket-fakes.js';

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

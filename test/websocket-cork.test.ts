/**
 * The client's corking (`adapters/websocket-cork.ts`): a tick's sends held by corking
 * `ws`'s byte stream until the next microtask, and nothing at all for any other socket.
 * Whatever a socket's `_socket` is or does, corking never throws and never loses a frame.
 */
import { describe, expect, it, vi } from 'vitest';
import type { LinkEvents, OutboundMessage, SendOutcome } from '../adapters/transport.js';
import { type WebSocketConstructorLike, webSocketTransport } from '../adapters/websocket.js';
import { corkableOf, tickCorker } from '../adapters/websocket-cork.js';

/** Let the microtasks queued so far run (a corker's uncork among them). */
const microtask = () => Promise.resolve();

/** A byte stream that records its calls into `log`, shared with what writes to it. */
function recordingStream(
  log: string[],
  fail: { cork?: number; uncork?: number } = {},
): { cork(): void; uncork(): void } {
  return {
    cork() {
      log.push('cork');
      if (fail.cork !== undefined && fail.cork-- > 0) throw new Error('cork refused');
    },
    uncork() {
      log.push('uncork');
      if (fail.uncork !== undefined && fail.uncork-- > 0) throw new Error('uncork refused');
    },
  };
}

const throwingGetter = () =>
  Object.defineProperty({}, '_socket', {
    get() {
      throw new Error('no socket here');
    },
  });

describe('corkableOf', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a browser-like socket without _socket', { readyState: 1, send() {} }],
    ['a _socket that is null', { _socket: null }],
    ['a _socket that is a number', { _socket: 42 }],
    ['a _socket without cork or uncork', { _socket: {} }],
    ['a _socket with cork only', { _socket: { cork() {} } }],
    ['a _socket with uncork only', { _socket: { uncork() {} } }],
    ['a _socket whose cork is not a function', { _socket: { cork: 1, uncork() {} } }],
    ['a _socket getter that throws', throwingGetter()],
    [
      'a _socket whose cork getter throws',
      {
        _socket: Object.defineProperty({ uncork() {} }, 'cork', {
          get() {
            throw new Error('no cork');
          },
        }),
      },
    ],
  ])('is undefined for %s, and does not throw', (_name, socket) => {
    expect(corkableOf(socket)).toBeUndefined();
  });

  it("is ws's byte stream where it has cork and uncork", () => {
    const stream = recordingStream([]);
    expect(corkableOf({ _socket: stream })).toBe(stream);
  });
});

describe('tickCorker', () => {
  it('corks once per tick, writes meanwhile are held, and uncorks on the next microtask', async () => {
    const log: string[] = [];
    const socket = { _socket: recordingStream(log) };
    const corker = tickCorker();
    corker.cork(socket);
    log.push('write a');
    corker.cork(socket);
    log.push('write b');
    corker.cork(socket);
    log.push('write c');
    // Not uncorked synchronously.
    expect(log).toEqual(['cork', 'write a', 'write b', 'write c']);
    await microtask();
    expect(log).toEqual(['cork', 'write a', 'write b', 'write c', 'uncork']);
    // The next tick corks again, once.
    corker.cork(socket);
    log.push('write d');
    corker.cork(socket);
    await microtask();
    expect(log.slice(5)).toEqual(['cork', 'write d', 'uncork']);
    // Nothing more happens with nothing written.
    await microtask();
    expect(log).toHaveLength(8);
  });

  it('does nothing for a socket with nothing to cork, and never throws for one', async () => {
    const corker = tickCorker();
    for (const socket of [null, undefined, {}, { _socket: {} }, throwingGetter()])
      expect(() => corker.cork(socket)).not.toThrow();
    // And a stream met later is still corked: nothing was left marked as corked.
    const log: string[] = [];
    corker.cork({ _socket: recordingStream(log) });
    await microtask();
    expect(log).toEqual(['cork', 'uncork']);
  });

  it('an uncork that throws does not escape, and the next tick corks again', async () => {
    const log: string[] = [];
    const socket = { _socket: recordingStream(log, { uncork: 1 }) };
    // The uncork is run here, where a throw out of it would be seen (in a microtask it
    // would be an uncaught exception).
    const queued: Array<() => void> = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      queued.push(task);
    });
    const corker = tickCorker();
    corker.cork(socket);
    expect(queued).toHaveLength(1);
    expect(() => queued[0]?.()).not.toThrow();
    expect(log).toEqual(['cork', 'uncork']);
    spy.mockRestore();
    corker.cork(socket);
    await microtask();
    expect(log).toEqual(['cork', 'uncork', 'cork', 'uncork']);
  });

  it('a cork that throws leaves nothing corked (no uncork follows) and the next call tries again', async () => {
    const log: string[] = [];
    const socket = { _socket: recordingStream(log, { cork: 1 }) };
    const corker = tickCorker();
    expect(() => corker.cork(socket)).not.toThrow();
    await microtask();
    expect(log).toEqual(['cork']);
    // Same tick or next: it tries again, and this time corks and uncorks.
    corker.cork(socket);
    expect(log).toEqual(['cork', 'cork']);
    await microtask();
    expect(log).toEqual(['cork', 'cork', 'uncork']);
  });

  it('a cork that throws twice in one tick is tried each time, and never uncorks what it did not cork', async () => {
    const log: string[] = [];
    const socket = { _socket: recordingStream(log, { cork: 2 }) };
    const corker = tickCorker();
    corker.cork(socket);
    corker.cork(socket);
    await microtask();
    expect(log).toEqual(['cork', 'cork']);
  });
});

describe('webSocketTransport with corking', () => {
  type Listener = (event: never) => void;

  /** A minimal socket: records what is sent (into `log`, shared with its `_socket`). */
  class FakeSocket {
    static last: FakeSocket | undefined;
    static log: string[] = [];
    readyState = 1;
    readonly sent: Array<Record<string, unknown>> = [];
    readonly listeners = new Map<string, Listener>();
    constructor(readonly url: string) {
      FakeSocket.last = this;
    }
    send(data: string) {
      const frame = JSON.parse(data) as Record<string, unknown>;
      this.sent.push(frame);
      FakeSocket.log.push(`send ${String(frame.id)}`);
    }
    close() {}
    addEventListener(type: string, listener: Listener) {
      this.listeners.set(type, listener);
    }
    receive(frame: object) {
      (this.listeners.get('message') as (e: { data: unknown }) => void)({
        data: JSON.stringify(frame),
      });
    }
  }

  /** `ws`'s shape: a `_socket` byte stream that records cork and uncork. */
  class CorkableSocket extends FakeSocket {
    readonly _socket = recordingStream(FakeSocket.log);
  }
  /** A `_socket` getter that throws on every read. */
  class ThrowingGetterSocket extends FakeSocket {
    get _socket(): unknown {
      throw new Error('no _socket here');
    }
  }
  /** A `_socket` whose cork and uncork both throw. */
  class RefusingSocket extends FakeSocket {
    readonly _socket = recordingStream(FakeSocket.log, { cork: 99, uncork: 99 });
  }

  const message = (id: string): OutboundMessage => ({
    id,
    serial: 1,
    data: id,
    json: JSON.stringify(id),
    retry: true,
  });

  function openLink(WebSocket: typeof FakeSocket) {
    FakeSocket.log = [];
    const closes: unknown[] = [];
    const events: LinkEvents = {
      open: () => {},
      message: () => {},
      alive: () => {},
      stream: () => {},
      close: (info) => closes.push(info),
    };
    const link = webSocketTransport({
      url: 'ws://x',
      WebSocket: WebSocket as unknown as WebSocketConstructorLike,
    }).connect(events);
    const socket = FakeSocket.last as FakeSocket;
    socket.receive({ type: 'welcome', connectionId: 'c', heartbeatMs: 10_000 });
    return { link, socket, closes };
  }

  it.each([
    ['a _socket getter that throws', ThrowingGetterSocket],
    ['a _socket whose cork and uncork throw', RefusingSocket],
    ['no _socket (a browser)', FakeSocket],
  ])('with %s, every frame is sent and every ack confirms', async (_name, WebSocket) => {
    const { link, socket, closes } = openLink(WebSocket);
    const outcomes: Array<Promise<SendOutcome>> = [];
    for (const id of ['a', 'b', 'c']) outcomes.push(link.send(message(id)));
    await microtask();
    outcomes.push(link.send(message('d')));
    expect(socket.sent.map((f) => f.id)).toEqual(['a', 'b', 'c', 'd']);
    for (const id of ['a', 'b', 'c', 'd']) socket.receive({ type: 'ack', id });
    expect(await Promise.all(outcomes)).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'ok' },
      { status: 'ok' },
    ]);
    expect(closes).toEqual([]);
    link.close();
  });

  it("with ws's _socket, the sends of one tick are written between one cork and its uncork", async () => {
    const { link, socket, closes } = openLink(CorkableSocket);
    const outcomes = ['a', 'b', 'c'].map((id) => link.send(message(id)));
    expect(FakeSocket.log).toEqual(['cork', 'send a', 'send b', 'send c']);
    await microtask();
    expect(FakeSocket.log).toEqual(['cork', 'send a', 'send b', 'send c', 'uncork']);
    outcomes.push(link.send(message('d')));
    await microtask();
    expect(FakeSocket.log.slice(5)).toEqual(['cork', 'send d', 'uncork']);
    for (const id of ['a', 'b', 'c', 'd']) socket.receive({ type: 'ack', id });
    expect((await Promise.all(outcomes)).map((o) => o.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(closes).toEqual([]);
    link.close();
  });
});

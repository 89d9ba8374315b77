/** The WebSocket adapter against a fake socket: framing, close codes, stale sends. */
import { describe, expect, it } from 'vitest';
import { CloseCode, isFatalCloseCode as fatalInTable } from '../adapters/protocol.js';
import { isFatalCloseCode } from '../adapters/websocket.js';
import { settle } from './support/settle.js';
import { message, open } from './support/websocket-fakes.js';

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

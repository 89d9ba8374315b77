/**
 * The reference server against hostile and careless peers and apps (issue 11, items 1–6):
 * it never falls over, never grows without bound, and says why it refuses.
 */
import { randomBytes } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import { createConnection } from '../../src/index.js';
import { Hub, type ServerErrorContext, type WireLink } from '../../src/server/hub.js';
import { createServer, type ServerMessage, type ServerOptions } from '../../src/server/index.js';
import { until } from '../integration/wire.js';

const opened: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

/** A reference server on 127.0.0.1, port 0, closed after the test; `onMessage` as given. */
async function startServer(options: ServerOptions = {}) {
  const received: ServerMessage[] = [];
  const server = createServer({
    heartbeatMs: 10_000,
    ...options,
    onMessage: (message, connection) => {
      const result = options.onMessage?.(message, connection);
      received.push(message);
      return result;
    },
  });
  const listening = await server.listen();
  opened.push({ close: () => listening.close() });
  return { server, listening, received };
}

/** Errors the server reported through `onError`, with where they were thrown. */
function reporting() {
  const reported: Array<{ error: unknown; during: ServerErrorContext['during'] }> = [];
  const onError: ServerOptions['onError'] = (error, context) =>
    reported.push({ error, during: context.during });
  return { reported, onError };
}

/** A `ws` client that records every frame but pings, and how the socket closed. */
async function openSocket(url: string, { welcome = true } = {}) {
  const socket = new WebSocket(url);
  const frames: Array<Record<string, unknown>> = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.type !== 'ping') frames.push(frame);
  });
  socket.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
  });
  socket.on('error', () => {});
  opened.push(socket);
  if (welcome) await until(() => frames.length > 0 || closed !== undefined, 'welcome');
  else await until(() => closed !== undefined, 'close');
  return {
    socket,
    frames,
    closed: () => closed,
    events: () => frames.filter((f) => f.type === 'event'),
    send: (frame: unknown) =>
      socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    waitClose: async () => {
      await until(() => closed !== undefined, 'close');
      return closed as { code: number; reason: string };
    },
  };
}

/** An SSE event stream read with fetch, as text. */
async function openStream(sseUrl: string) {
  const controller = new AbortController();
  const response = await fetch(`${sseUrl}/events`, { signal: controller.signal });
  const reader = response.body?.getReader();
  let text = '';
  const decoder = new TextDecoder();
  void (async () => {
    while (reader) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += decoder.decode(value);
    }
  })();
  await until(() => text.includes('event: welcome'), 'welcome');
  const welcome = JSON.parse(/event: welcome\ndata: (.*)\n/.exec(text)?.[1] ?? '{}');
  opened.push({ close: () => controller.abort() });
  const id = welcome.connectionId as string;
  return {
    id,
    text: () => text,
    close: () => controller.abort(),
    post: (action: string, body: unknown) =>
      fetch(`${sseUrl}/${action}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Connection-ID': id },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
  };
}

/** A client frame as RFC 6455 wants it: text, final, masked. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x81, 0x80 | length])
      : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([header, mask, masked]);
}

/** A TCP socket that does the WebSocket upgrade by hand, so a test can stop reading. */
async function rawWebSocket(wsUrl: string) {
  const { hostname, port, pathname } = new URL(wsUrl);
  const socket: Socket = tcpConnect(Number(port), hostname);
  socket.on('error', () => {});
  opened.push({ close: () => socket.destroy() });
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.write(
    `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  await until(() => text.includes('"welcome"'), 'welcome');
  return {
    socket,
    text: () => text,
    send: (frame: string) => socket.write(maskedTextFrame(frame)),
  };
}

/** A TCP socket that opens an SSE event stream by hand, so a test can stop reading. */
async function rawEventStream(sseUrl: string) {
  const { hostname, port, pathname } = new URL(sseUrl);
  const socket: Socket = tcpConnect(Number(port), hostname);
  socket.on('error', () => {});
  opened.push({ close: () => socket.destroy() });
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.write(`GET ${pathname}/events HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  await until(() => text.includes('event: welcome'), 'welcome');
  const id = /"connectionId":"([^"]+)"/.exec(text)?.[1] ?? '';
  return { socket, id };
}

/** Bytes on the heap and in Buffers after a full collection: where write queues live. */
function heldBytes(): number {
  globalThis.gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const fetchPost = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });

describe('1. no frame or request takes the server down', () => {
  const deep = `{"type":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
  it.each([
    ['a type 20,000 arrays deep', deep, 'unknown frame type an array'],
    ['a type that is an object', '{"type":{"toString":1}}', 'unknown frame type an object'],
    ['no type', '{"id":"a"}', 'unknown frame type undefined'],
    ['streams that are a string', '{"type":"resume","streams":"x"}', 'resume needs streams'],
    ['a position that is null', '{"type":"resume","streams":[null]}', 'resume needs streams'],
    [
      'a stream name that is an object',
      '{"type":"resume","streams":[{"stream":{},"seq":0}]}',
      'resume needs streams',
    ],
    [
      'a seq that is a string',
      '{"type":"resume","streams":[{"stream":"s","seq":"1"}]}',
      'resume needs streams',
    ],
    ['an id that is an object', '{"type":"send","id":{"a":1},"data":1}', 'send needs a string id'],
    ['an id that is an array', '{"type":"send","id":["a"],"data":1}', 'send needs a string id'],
  ])('closes that socket with 1007 on %s, and serves the next one', async (_, text, reason) => {
    const { reported, onError } = reporting();
    const { listening } = await startServer({ onError });
    const a = await openSocket(listening.wsUrl);
    a.send(text);
    const closed = await a.waitClose();
    expect(closed.code).toBe(1007);
    expect(closed.reason.startsWith(reason)).toBe(true);
    const b = await openSocket(listening.wsUrl);
    expect(b.frames[0]?.type).toBe('welcome');
    expect(reported).toEqual([]);
    b.socket.close();
  });

  it('an exception while handling a frame closes that socket with 1011, is reported, and the next socket is served', async () => {
    const { reported, onError } = reporting();
    const { listening } = await startServer({ onError });
    const bug = new Error('a bug in the server');
    const accept = vi.spyOn(Hub.prototype, 'accept').mockImplementationOnce(() => {
      throw bug;
    });
    const a = await openSocket(listening.wsUrl);
    a.send({ type: 'send', id: 'm1', data: 1 });
    expect(await a.waitClose()).toEqual({ code: 1011, reason: 'internal error' });
    expect(reported).toEqual([{ error: bug, during: 'websocket' }]);
    accept.mockRestore();
    const b = await openSocket(listening.wsUrl);
    b.send({ type: 'send', id: 'm2', data: 2 });
    await until(() => b.frames.some((f) => f.type === 'ack'), 'ack');
    b.socket.close();
  });

  it('an exception while handling a request answers 500, is reported, and the next request is served', async () => {
    const { reported, onError } = reporting();
    const bug = new Error('a bug in the server');
    const { listening } = await startServer({
      onError,
      fallback: async (req) => {
        if (req.url === '/throws') throw new Error('fallback failed');
      },
    });
    const stream = await openStream(listening.sseUrl);
    vi.spyOn(Hub.prototype, 'accept').mockImplementationOnce(() => {
      throw bug;
    });
    const failed = await stream.post('send', { messages: [{ id: 'm1', data: 1 }] });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: 'internal error' });
    expect((await fetch(`${listening.url}/throws`)).status).toBe(500);
    expect(reported.map((r) => r.during)).toEqual(['http', 'fallback']);
    expect(reported[0]?.error).toBe(bug);
    const next = await stream.post('send', { messages: [{ id: 'm2', data: 2 }] });
    expect(await next.json()).toEqual({ results: [{ id: 'm2', status: 'ok' }] });
    stream.close();
  });

  it('onMessage throwing a value that cannot become text refuses that message only (nack / rejected); a promise it returns that rejects is reported; an onError that throws is ignored', async () => {
    const hostile = () => {
      // `String()` of this throws; reading its `message` throws too.
      const value = Object.create(null);
      Object.defineProperty(value, 'message', {
        get() {
          throw new Error('gotcha');
        },
      });
      return value;
    };
    const during: string[] = [];
    const { listening, received } = await startServer({
      onMessage: (m) => {
        if (m.data === 'bad') throw hostile();
        if (m.data === 'async') return Promise.reject(hostile()) as never;
      },
      onError: (_, context) => {
        during.push(context.during);
        throw new Error('the reporter is broken too');
      },
    });
    const ws = await openSocket(listening.wsUrl);
    ws.send({ type: 'send', id: 'w1', data: 'bad' });
    ws.send({ type: 'send', id: 'w2', data: 'async' });
    ws.send({ type: 'send', id: 'w3', data: 'good' });
    await until(() => ws.frames.length >= 4, 'three verdicts');
    expect(ws.frames.slice(1)).toEqual([
      { type: 'nack', id: 'w1', error: 'an object' },
      { type: 'ack', id: 'w2' },
      { type: 'ack', id: 'w3' },
    ]);
    const stream = await openStream(listening.sseUrl);
    const answer = await stream.post('send', {
      messages: [
        { id: 's1', data: 'bad' },
        { id: 's2', data: 'good' },
      ],
    });
    expect(await answer.json()).toEqual({
      results: [
        { id: 's1', status: 'rejected', error: 'an object' },
        { id: 's2', status: 'ok' },
      ],
    });
    expect(received.map((m) => m.id)).toEqual(['w2', 'w3', 's2']);
    expect(during).toEqual(['onMessage']);
    ws.socket.close();
    stream.close();
  });
});

describe('2. authorize and canWatch', () => {
  it('authorize may return a principal, sync or async: it is kept on the connection and onMessage sees it, on both wires', async () => {
    const seen: Array<string | undefined> = [];
    const { server, listening } = await startServer({
      authorize: (req) => {
        const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '';
        return user.startsWith('async-') ? Promise.resolve(user) : user;
      },
      onMessage: (_, connection) => {
        seen.push(connection.principal);
      },
    });
    const ws = await openSocket(`${listening.wsUrl}?user=ada`);
    ws.send({ type: 'send', id: 'a', data: 1 });
    await until(() => seen.length === 1, 'message');
    // The event stream is authorised by its URL too; its principal is kept for the POSTs.
    const response = await fetch(`${listening.sseUrl}/events?user=async-bob`);
    const reader = response.body?.getReader();
    opened.push({ close: () => void reader?.cancel().catch(() => {}) });
    const first = new TextDecoder().decode((await reader?.read())?.value);
    const id = /"connectionId":"([^"]+)"/.exec(first)?.[1] ?? '';
    const sent = await fetchPost(
      `${listening.sseUrl}/send?user=async-bob`,
      '{"messages":[{"id":"b","data":2}]}',
      { 'X-Connection-ID': id },
    );
    expect(sent.status).toBe(200);
    expect(seen).toEqual(['ada', 'async-bob']);
    expect([...server.connections.values()].map((c) => c.principal).sort()).toEqual([
      'ada',
      'async-bob',
    ]);
    ws.socket.close();
  });

  it('authorize refuses on false, "", a promise of false, a throw or a rejection: 4001 / 401; throws and rejections are reported', async () => {
    const { reported, onError } = reporting();
    const boom = new Error('token service down');
    const verdicts: Record<string, () => unknown> = {
      false: () => false,
      empty: () => '',
      async: () => Promise.resolve(false),
      throws: () => {
        throw boom;
      },
      rejects: () => Promise.reject(boom),
    };
    const { server, listening } = await startServer({
      onError,
      authorize: (req) => {
        const how = new URL(req.url ?? '/', 'http://x').searchParams.get('how') ?? '';
        return (verdicts[how]?.() ?? true) as boolean;
      },
    });
    for (const how of Object.keys(verdicts)) {
      const ws = await openSocket(`${listening.wsUrl}?how=${how}`, { welcome: false });
      expect([how, ws.closed()?.code]).toEqual([how, 4001]);
      expect([how, (await fetch(`${listening.sseUrl}/events?how=${how}`)).status]).toEqual([
        how,
        401,
      ]);
    }
    expect(server.connections.size).toBe(0);
    expect(reported).toEqual([
      { error: boom, during: 'authorize' },
      { error: boom, during: 'authorize' },
      { error: boom, during: 'authorize' },
      { error: boom, during: 'authorize' },
    ]);
  });

  it('canWatch refuses a resume naming a stream the principal may not read: close 4003 / 403 naming it, nothing replayed', async () => {
    const { server, listening } = await startServer({
      authorize: () => 'ada',
      canWatch: (connection, stream) =>
        stream === 'public' || stream === `private:${connection.principal}`,
    });
    server.publish('public', 'hello');
    server.publish('private:bob', 'secret');
    const ws = await openSocket(listening.wsUrl);
    ws.send({
      type: 'resume',
      streams: [
        { stream: 'public', seq: 0 },
        { stream: 'private:bob', seq: 0 },
      ],
    });
    expect(await ws.waitClose()).toEqual({
      code: 4003,
      reason: 'may not watch stream "private:bob"',
    });
    expect(ws.events()).toEqual([]);
    const stream = await openStream(listening.sseUrl);
    const refused = await stream.post('resume', { streams: [{ stream: 'private:bob', seq: 0 }] });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: 'may not watch stream "private:bob"' });
    const allowed = await stream.post('resume', {
      streams: [
        { stream: 'public', seq: 0 },
        { stream: 'private:ada', seq: 0 },
      ],
    });
    expect(allowed.status).toBe(200);
    await until(() => stream.text().includes('"data":"hello"'), 'replay');
    expect(stream.text()).not.toContain('secret');
    expect([...(server.connections.get(stream.id)?.streams ?? [])]).toEqual([
      'public',
      'private:ada',
    ]);
    stream.close();
  });

  it('an async canWatch holds back the frames after the resume, so order is kept; one that throws fails the resume (1011 / 500) and is reported', async () => {
    const { reported, onError } = reporting();
    const boom = new Error('acl service down');
    const order: string[] = [];
    const { server, listening } = await startServer({
      onError,
      onMessage: (m) => {
        order.push(`message ${m.id}`);
      },
      canWatch: async (_, stream) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (stream === 'broken') throw boom;
        order.push(`allowed ${stream}`);
        return true;
      },
    });
    server.publish('s', 1);
    const ws = await openSocket(listening.wsUrl);
    ws.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    ws.send({ type: 'send', id: 'after', data: 1 });
    await until(() => ws.frames.some((f) => f.type === 'ack'), 'ack');
    expect(order).toEqual(['allowed s', 'message after']);
    expect(ws.frames.slice(1).map((f) => f.type)).toEqual(['event', 'resumed', 'ack']);

    ws.send({ type: 'resume', streams: [{ stream: 'broken', seq: 0 }] });
    expect(await ws.waitClose()).toEqual({ code: 1011, reason: 'canWatch failed' });
    const stream = await openStream(listening.sseUrl);
    const failed = await stream.post('resume', { streams: [{ stream: 'broken', seq: 0 }] });
    expect(failed.status).toBe(500);
    expect(reported).toEqual([
      { error: boom, during: 'canWatch' },
      { error: boom, during: 'canWatch' },
    ]);
    stream.close();
  });
});

describe('3. resume amplification is impossible', () => {
  it('a resume of 5,000 duplicate positions of a 10,000-event stream replays each event once, from the smallest seq', async () => {
    const { server, listening } = await startServer();
    for (let n = 1; n <= 10_000; n++) server.publish('s', n);
    const ws = await openSocket(listening.wsUrl);
    const streams = Array.from({ length: 5_000 }, (_, i) => ({ stream: 's', seq: 5_000 - i }));
    ws.send({ type: 'resume', streams }); // ~150 KiB; was 50,000,000 events
    await until(() => ws.frames.some((f) => f.type === 'resumed'), 'resumed');
    const seqs = ws.events().map((f) => f.seq);
    expect(seqs.length).toBeLessThanOrEqual(10_000);
    // Merged at the smallest seq given (1): nothing is skipped, nothing sent twice.
    expect(seqs).toEqual(Array.from({ length: 9_999 }, (_, i) => i + 2));
    expect(ws.closed()).toBeUndefined();
    ws.socket.close();
  });

  it('SSE: duplicate positions in one POST are merged the same way', async () => {
    const { server, listening } = await startServer();
    for (let n = 1; n <= 1_000; n++) server.publish('s', n);
    const stream = await openStream(listening.sseUrl);
    const streams = Array.from({ length: 5_000 }, () => ({ stream: 's', seq: 990 }));
    expect((await stream.post('resume', { streams })).status).toBe(200);
    await until(() => stream.text().includes('"seq":1000,'), 'replay');
    expect(stream.text().match(/event: event\n/g)?.length).toBe(10);
    stream.close();
  });

  it('a resume past maxStreamsPerConnection is refused, counting every resume on the link: close 1008 / 400 naming the limit', async () => {
    const { server, listening } = await startServer({ maxStreamsPerConnection: 3 });
    const names = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ stream: `s${from + i}`, seq: 0 }));
    const ws = await openSocket(listening.wsUrl);
    ws.send({ type: 'resume', streams: names(0, 2) });
    ws.send({ type: 'resume', streams: names(0, 3) }); // one more: 3, still within
    ws.send({ type: 'resume', streams: names(3, 1) }); // a 4th stream: refused
    expect(await ws.waitClose()).toEqual({
      code: 1008,
      reason: 'a connection may watch at most 3 streams',
    });
    expect(ws.frames.filter((f) => f.type === 'resumed')).toHaveLength(2);
    const stream = await openStream(listening.sseUrl);
    const refused = await stream.post('resume', { streams: names(0, 4) });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'a connection may watch at most 3 streams' });
    expect(server.connections.get(stream.id)?.streams.size).toBe(0);
    // A 10,000-name resume costs nothing either: refused at the 4th distinct name.
    expect((await stream.post('resume', { streams: names(0, 10_000) })).status).toBe(400);
    stream.close();
  });

  it('stream names and message ids are 1–256 characters: a resume naming a longer or empty stream is closed with 1007 / answered 400, a longer id is nacked / answered 400', async () => {
    const { listening, received } = await startServer();
    const long = 'x'.repeat(257);
    for (const name of [long, '']) {
      const ws = await openSocket(listening.wsUrl);
      ws.send({ type: 'resume', streams: [{ stream: name, seq: 0 }] });
      const closed = await ws.waitClose();
      expect(closed.code).toBe(1007);
      expect(closed.reason.startsWith('stream names must be 1–256 characters')).toBe(true);
    }
    const ws = await openSocket(listening.wsUrl);
    ws.send({ type: 'resume', streams: [{ stream: 'y'.repeat(256), seq: 0 }] });
    ws.send({ type: 'send', id: long, data: 1 });
    ws.send({ type: 'send', id: 'z'.repeat(256), data: 2 });
    await until(() => ws.frames.length >= 4, 'verdicts');
    expect(ws.frames.slice(1)).toEqual([
      { type: 'resumed' },
      { type: 'nack', id: long, error: 'message ids must be 1–256 characters' },
      { type: 'ack', id: 'z'.repeat(256) },
    ]);
    const stream = await openStream(listening.sseUrl);
    const badStream = await stream.post('resume', { streams: [{ stream: long, seq: 0 }] });
    expect(badStream.status).toBe(400);
    expect((await badStream.json()).error).toMatch(/^stream names must be 1–256 characters/);
    const badId = await stream.post('send', { messages: [{ id: long, data: 3 }] });
    expect(badId.status).toBe(400);
    expect(await badId.json()).toEqual({ error: 'message ids must be 1–256 characters' });
    expect(received.map((m) => m.data)).toEqual([2]);
    ws.socket.close();
    stream.close();
  });
});

describe('4. a peer that does not read cannot grow the server', () => {
  const chunk = 'x'.repeat(64 * 1024);
  const LIMIT = 1 << 20;

  it('WebSocket: a link over maxBufferedBytes is dropped during a publish loop; memory stays bounded', async () => {
    const { server, listening } = await startServer({ maxBufferedBytes: LIMIT, replayWindow: 4 });
    const raw = await rawWebSocket(listening.wsUrl);
    raw.send('{"type":"resume","streams":[{"stream":"s","seq":0}]}');
    await until(() => raw.text().includes('"resumed"'), 'resumed');
    raw.socket.pause(); // and never reads again
    const before = heldBytes();
    for (let i = 0; i < 800; i++) server.publish('s', chunk); // 50 MiB
    const growth = heldBytes() - before;
    await until(() => server.connections.size === 0, 'the slow link dropped');
    expect(growth).toBeLessThan(16 << 20);
  });

  it.each(['websocket', 'sse'] as const)(
    '%s: a reader that keeps up takes a burst over maxBufferedBytes whole, and is not dropped',
    async (wire) => {
      const { server, listening } = await startServer({
        maxBufferedBytes: LIMIT,
        replayWindow: 100,
      });
      const transport =
        wire === 'websocket'
          ? webSocketTransport({ url: listening.wsUrl, WebSocket })
          : sseTransport({ url: listening.sseUrl, EventSource });
      const conn = createConnection({ transport, backoff: () => 5 });
      const errors: string[] = [];
      let got = 0;
      conn.on('error', (e) => errors.push(e.kind));
      conn.on('message', () => got++);
      conn.watch('s');
      await conn.send('ready');
      // 2.5 MiB at once: over the limit in a burst, far under it once the reader drains.
      for (let i = 0; i < 40; i++) server.publish('s', chunk);
      await until(() => got === 40, 'every event of the burst', 10_000);
      expect(errors).toEqual([]);
      expect(server.connections.size).toBe(1);
      conn.close();
    },
  );

  it('SSE: an event stream over maxBufferedBytes is dropped during a publish loop; memory stays bounded', async () => {
    const { server, listening } = await startServer({ maxBufferedBytes: LIMIT, replayWindow: 4 });
    const raw = await rawEventStream(listening.sseUrl);
    const resumed = await fetchPost(
      `${listening.sseUrl}/resume`,
      '{"streams":[{"stream":"s","seq":0}]}',
      { 'X-Connection-ID': raw.id },
    );
    expect(resumed.status).toBe(200);
    raw.socket.pause();
    const before = heldBytes();
    for (let i = 0; i < 800; i++) server.publish('s', chunk);
    const growth = heldBytes() - before;
    await until(() => server.connections.size === 0, 'the slow link dropped');
    expect(growth).toBeLessThan(16 << 20);
  });

  it('a replay to a peer that does not read stops at maxBufferedBytes and drops the link', async () => {
    const { server, listening } = await startServer({ maxBufferedBytes: LIMIT, replayWindow: 800 });
    for (let i = 0; i < 800; i++) server.publish('s', chunk);
    const raw = await rawWebSocket(listening.wsUrl);
    raw.socket.pause();
    const before = heldBytes();
    raw.send('{"type":"resume","streams":[{"stream":"s","seq":0}]}');
    await until(() => server.connections.size === 0, 'the slow link dropped');
    expect(heldBytes() - before).toBeLessThan(16 << 20);
  });
});

describe('5. publish serialises once', () => {
  it.each([
    ['a BigInt', () => 10n],
    [
      'a cycle',
      () => {
        const a: Record<string, unknown> = {};
        a.self = a;
        return a;
      },
    ],
    [
      'nesting too deep for JSON.stringify',
      () => {
        let deep: unknown[] = [];
        for (let i = 0; i < 100_000; i++) deep = [deep];
        return deep;
      },
    ],
    ['undefined', () => undefined],
    ['a function', () => () => 1],
  ])('data that is %s throws a TypeError to the caller and is not logged', async (_, make) => {
    const { server, listening } = await startServer();
    const ws = await openSocket(listening.wsUrl);
    ws.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(() => ws.frames.some((f) => f.type === 'resumed'), 'resumed');
    let thrown: unknown;
    try {
      server.publish('s', make());
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as TypeError).message).toMatch(
      /^holdfast\/server: publish\(\) data must be serialisable to JSON/,
    );
    expect(server.publish('s', 'fine').seq).toBe(1);
    // A later resume replays the log: nothing poisoned in it.
    const late = await openSocket(listening.wsUrl);
    late.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(() => late.frames.some((f) => f.type === 'resumed'), 'resumed');
    expect(late.events()).toEqual([{ type: 'event', stream: 's', seq: 1, data: 'fine' }]);
    await until(() => ws.events().length === 1, 'live event');
    expect(ws.closed()).toBeUndefined();
    ws.socket.close();
    late.socket.close();
  });

  it('fan-out and replay never serialise data again, and the log keeps what was published', async () => {
    const { server, listening } = await startServer();
    const watchers = [await openSocket(listening.wsUrl), await openSocket(listening.wsUrl)];
    for (const ws of watchers) ws.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(
      () => watchers.every((ws) => ws.frames.some((f) => f.type === 'resumed')),
      'resumed',
    );
    const stream = await openStream(listening.sseUrl);
    await stream.post('resume', { streams: [{ stream: 's', seq: 0 }] });
    let serialised = 0;
    const data = {
      text: 'hi',
      toJSON() {
        serialised++;
        return { text: this.text };
      },
    };
    server.publish('s', data);
    expect(serialised).toBe(1);
    data.text = 'changed after publish';
    await until(() => watchers.every((ws) => ws.events().length === 1), 'events');
    await until(() => stream.text().includes('"seq":1,'), 'SSE event');
    expect(stream.text()).toContain(
      'event: event\ndata: {"stream":"s","seq":1,"data":{"text":"hi"}}\n\n',
    );
    const late = await openSocket(listening.wsUrl);
    late.send({ type: 'resume', streams: [{ stream: 's', seq: 0 }] });
    await until(() => late.frames.some((f) => f.type === 'resumed'), 'replay');
    expect(late.events()).toEqual([{ type: 'event', stream: 's', seq: 1, data: { text: 'hi' } }]);
    expect(serialised).toBe(1);
    for (const ws of [...watchers, late]) ws.socket.close();
    stream.close();
  });

  it('publish refuses a stream name that no client could resume', async () => {
    const { server } = await startServer();
    expect(() => server.publish('', 1)).toThrow(TypeError);
    expect(() => server.publish('x'.repeat(257), 1)).toThrow(/1–256 characters/);
  });
});

describe('6. HTTP time limits, the connection limit, and what a closed link leaves behind', () => {
  it('a POST whose body trickles in is cut off with 408 after requestTimeoutMs; open event streams outlive it', async () => {
    const { listening } = await startServer({ requestTimeoutMs: 150, heartbeatMs: 20 });
    const stream = await openStream(listening.sseUrl);
    const { hostname, port } = new URL(listening.url);
    const socket = tcpConnect(Number(port), hostname);
    socket.on('error', () => {});
    opened.push({ close: () => socket.destroy() });
    let answer = '';
    let closed = false;
    socket.on('data', (data: Buffer) => {
      answer += data.toString('latin1');
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.write(
      `POST /sse/send HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        `X-Connection-ID: ${stream.id}\r\nContent-Length: 1000\r\n\r\n{"messages":[`,
    );
    const started = Date.now();
    await until(() => closed, 'the slow request cut off');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    // The event stream, long past the limit, still gets its pings.
    const pings = () => stream.text().match(/event: ping\n/g)?.length ?? 0;
    const seen = pings();
    await until(() => pings() >= seen + 5, 'more pings');
    expect((await stream.post('suspend', { streams: [] })).status).toBe(204);
    stream.close();
  });

  it('maxConnections refuses one more link: WebSocket close 1013, GET B/events 503 with Retry-After', async () => {
    const { server, listening } = await startServer({ maxConnections: 2 });
    const a = await openSocket(listening.wsUrl);
    const b = await openStream(listening.sseUrl);
    const c = await openSocket(listening.wsUrl, { welcome: false });
    expect(c.closed()).toEqual({ code: 1013, reason: 'try again later' });
    const d = await fetch(`${listening.sseUrl}/events`);
    expect(d.status).toBe(503);
    expect(d.headers.get('retry-after')).toBe('5');
    expect(server.connections.size).toBe(2);
    // POSTs on a live link are not counted.
    expect((await b.post('send', { messages: [{ id: 'm', data: 1 }] })).status).toBe(200);
    a.socket.close();
    await until(() => server.connections.size === 1, 'a closed');
    const e = await openSocket(listening.wsUrl);
    expect(e.frames[0]?.type).toBe('welcome');
    e.socket.close();
    b.close();
  });

  it('a limit that is not a positive number is refused by createServer with a TypeError', () => {
    for (const options of [
      { maxBufferedBytes: 0 },
      { maxStreamsPerConnection: -1 },
      { maxConnections: Number.NaN },
      { requestTimeoutMs: Number.POSITIVE_INFINITY },
      { requestTimeoutMs: '30s' as unknown as number },
    ])
      expect(() => createServer(options)).toThrow(TypeError);
  });

  it('the closed-connection list keeps ids only: a closed connection and its streams are collected, and a late suspend notice still counts', async () => {
    const hub = new Hub();
    const link: WireLink = {
      transport: 'sse',
      eventFrame: () => '',
      pingFrame: '',
      buffered: () => 0,
      write: () => {},
      drop: () => {},
    };
    // In a function of its own, so nothing of this test's frame keeps the connection.
    const watchThenClose = () => {
      const { connection, closed } = hub.connect(link, 60_000);
      const plan = hub.planResume(
        connection,
        Array.from({ length: 1000 }, (_, i) => ({ stream: `s${i}`, seq: 0 })),
      );
      if ('refused' in plan) throw new Error(plan.error);
      hub.resume(connection, plan);
      expect(connection.streams.size).toBe(1000);
      closed();
      return { id: connection.id, streams: new WeakRef(connection.streams) };
    };
    const { id, streams } = watchThenClose();
    expect(hub.noteSuspend(id)).toBe(true); // a late notice is still recognised
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc?.();
    expect(streams.deref()).toBeUndefined();
    expect(hub.noteSuspend('never-was')).toBe(false);
  });
});

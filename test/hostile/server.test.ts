/**
 * The reference server against hostile and careless peers and apps (issue 11, items 1–3):
 * it never falls over, never grows without bound, and says why it refuses.
 * Items 4–6 are in server-limits.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Hub } from '../../src/server/hub.js';
import { until } from '../integration/wire.js';
import {
  closeOpened,
  fetchPost,
  opened,
  openSocket,
  openStream,
  reporting,
  startServer,
} from './server-support.js';

afterEach(closeOpened);

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

  it('onMessage throwing, or returning a promise that rejects, with a value that cannot become text refuses that message only (nack / rejected); an onError that throws is ignored', async () => {
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
        if (m.data === 'async') return Promise.reject(hostile());
      },
      canWatch: () => {
        throw new Error('acl down');
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
      { type: 'nack', id: 'w2', error: 'an object' },
      { type: 'ack', id: 'w3' },
    ]);
    const stream = await openStream(listening.sseUrl);
    const answer = await stream.post('send', {
      messages: [
        { id: 's1', data: 'bad' },
        { id: 's2', data: 'async' },
        { id: 's3', data: 'good' },
      ],
    });
    expect(await answer.json()).toEqual({
      results: [
        { id: 's1', status: 'rejected', error: 'an object' },
        { id: 's2', status: 'rejected', error: 'an object' },
        { id: 's3', status: 'ok' },
      ],
    });
    // A refusal is a verdict, not an error: nothing is reported for it.
    expect(received.map((m) => m.id)).toEqual(['w2', 'w3', 's2', 's3']);
    expect(during).toEqual([]);
    // A hook that fails is reported, and a reporter that throws changes nothing.
    const failed = await stream.post('resume', { streams: [{ stream: 'x', seq: 0 }] });
    expect(failed.status).toBe(500);
    expect(during).toEqual(['canWatch']);
    ws.send({ type: 'send', id: 'w4', data: 'good' });
    await until(() => ws.frames.length >= 5, 'a fourth verdict');
    expect(ws.frames[4]).toEqual({ type: 'ack', id: 'w4' });
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

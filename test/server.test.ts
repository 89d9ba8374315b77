/** The reference server's own contract: every status code and close code of protocol v1 (v2's own: server-v2.test.ts). */

import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  CloseCode,
  FatalCloseCodes,
  Frame,
  Header,
  HttpStatus,
  PROTOCOL_VERSION,
  Query,
  ResultStatus,
  SseEvent,
  SsePath,
  WireLimit,
} from '../adapters/protocol.js';
import { startServer, until } from './integration/wire.js';

async function openStream(sseUrl: string) {
  const controller = new AbortController();
  const response = await fetch(`${sseUrl}/events`, { signal: controller.signal });
  const reader = response.body?.getReader();
  let text = '';
  const decoder = new TextDecoder();
  const pump = async () => {
    while (reader) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += decoder.decode(value);
    }
  };
  void pump();
  await until(() => text.includes('event: welcome'), 'welcome');
  const welcome = JSON.parse(/event: welcome\ndata: (.*)\n/.exec(text)?.[1] ?? '{}');
  return {
    response,
    id: welcome.connectionId as string,
    text: () => text,
    close: () => controller.abort(),
  };
}

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });

describe('the wire table both sides import (adapters/protocol.ts)', () => {
  // Literals on purpose: a test that read the table could not catch a wrong value in it.
  it('pins the words and numbers of protocol v2 as docs/protocol.md gives them', () => {
    expect(Object.values(Frame).sort()).toEqual(
      [
        'ack',
        'event',
        'nack',
        'ping',
        'resume',
        'resumed',
        'send',
        'stream',
        'suspend',
        'unwatch',
        'welcome',
      ].sort(),
    );
    expect(SseEvent).toEqual({
      welcome: 'welcome',
      event: 'event',
      ping: 'ping',
      stream: 'stream',
      resumed: 'resumed',
    });
    expect(SsePath).toEqual({
      events: '/events',
      resume: '/resume',
      send: '/send',
      suspend: '/suspend',
      unwatch: '/unwatch',
    });
    expect(Query).toEqual({ session: 'session', version: 'v' });
    expect(PROTOCOL_VERSION).toBe(2);
    expect(WireLimit).toMatchObject({
      nameChars: 256,
      epochChars: 64,
      streamsPerRequest: 100,
      sessionMinChars: 16,
      sessionMaxChars: 128,
      resumeIdChars: 64,
    });
    expect(Header).toEqual({ connectionId: 'X-Connection-ID' });
    expect(ResultStatus).toEqual({ ok: 'ok', rejected: 'rejected' });
    expect(Object.values(CloseCode).sort((a, b) => a - b)).toEqual([
      1000, 1002, 1007, 1008, 1009, 1011, 1013, 4001, 4003,
    ]);
    expect(FatalCloseCodes).toEqual({ min: 4000, max: 4099 });
    expect(Object.values(HttpStatus).sort((a, b) => a - b)).toEqual([
      200, 204, 400, 401, 403, 404, 408, 413, 422, 429, 500, 503,
    ]);
  });
});

describe('reference server, SSE + POST', () => {
  it('opens an event stream with a welcome carrying an unguessable id, also in X-Connection-ID, and the heartbeat', async () => {
    const { listening } = await startServer({ heartbeatMs: 30 });
    const stream = await openStream(listening.sseUrl);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // The same id in a header, so a load balancer can stick the link's POSTs to it.
    expect(stream.response.headers.get('x-connection-id')).toBe(stream.id);
    await until(() => stream.text().includes('event: ping\ndata: {}'), 'a ping');
    stream.close();
  });

  it('answers 400 without X-Connection-ID, 404 for an unknown one, 400 for malformed JSON, 413 over the limit', async () => {
    const { listening } = await startServer({ maxBodyBytes: 100 });
    const stream = await openStream(listening.sseUrl);
    const send = `${listening.sseUrl}/send`;
    expect((await post(send, '{"messages":[]}')).status).toBe(400);
    expect(
      (await post(send, '{"messages":[{"id":"a"}]}', { 'X-Connection-ID': 'nobody' })).status,
    ).toBe(404);
    expect((await post(send, '{not json', { 'X-Connection-ID': stream.id })).status).toBe(400);
    expect(
      // The limit is the data's plus the envelope's (ENVELOPE_BYTES, 64 KiB).
      (
        await post(
          send,
          JSON.stringify({ messages: [{ id: 'a', data: 'x'.repeat(100 + 65_536) }] }),
          {
            'X-Connection-ID': stream.id,
          },
        )
      ).status,
    ).toBe(413);
    expect(
      (await post(send, '{"messages":[{"data":1}]}', { 'X-Connection-ID': stream.id })).status,
    ).toBe(400);
    expect((await post(`${listening.url}/nowhere`, '{}')).status).toBe(404);
    stream.close();
  });

  it('confirms a batch per message, hands each id to onMessage once, and rejects what onMessage refuses', async () => {
    const { listening, received } = await startServer({
      onMessage: (m) => {
        if (m.id === 'bad') throw new Error('nope');
      },
    });
    const stream = await openStream(listening.sseUrl);
    const body = JSON.stringify({
      messages: [
        { id: 'a', data: 1 },
        { id: 'bad', data: 2 },
        { id: 'a', data: 1 },
      ],
    });
    const response = await post(`${listening.sseUrl}/send`, body, { 'X-Connection-ID': stream.id });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      results: [
        { id: 'a', status: 'ok' },
        { id: 'bad', status: 'rejected', error: 'nope' },
        { id: 'a', status: 'ok' },
      ],
    });
    expect(received.map((m) => m.id)).toEqual(['a']);
    stream.close();
  });

  it('resume replays after each position before answering 200; suspend answers 204', async () => {
    const { server, listening } = await startServer();
    for (const n of [1, 2, 3]) server.publish('s', n);
    const stream = await openStream(listening.sseUrl);
    const headers = { 'X-Connection-ID': stream.id };
    const resumed = await post(
      `${listening.sseUrl}/resume`,
      '{"streams":[{"stream":"s","seq":1}]}',
      headers,
    );
    expect(resumed.status).toBe(200);
    await until(() => stream.text().includes('"seq":3'), 'replay');
    expect(stream.text()).not.toContain('"seq":1,');
    expect(stream.text()).toContain('event: event\ndata: {"stream":"s","seq":2,"data":2}');
    expect(
      (await post(`${listening.sseUrl}/resume`, '{"streams":[{"stream":1}]}', headers)).status,
    ).toBe(400);
    expect((await post(`${listening.sseUrl}/suspend`, '{"streams":[]}', headers)).status).toBe(204);
    stream.close();
  });

  it('a resume with a resumeId: the replay, then event: resumed with that id on the stream, then 200 {"marker":true}; without one, {} and no marker', async () => {
    const { server, listening } = await startServer();
    for (const n of [1, 2, 3]) server.publish('s', n);
    server.publish('t', 'other');
    const stream = await openStream(listening.sseUrl);
    const headers = { 'X-Connection-ID': stream.id };
    const resume = (body: object) =>
      post(`${listening.sseUrl}/resume`, JSON.stringify(body), headers);
    const first = await resume({ streams: [{ stream: 's', seq: 1 }], resumeId: 'r1' });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ marker: true });
    const second = await resume({ streams: [{ stream: 't', seq: 0 }], resumeId: '2' });
    expect(await second.json()).toEqual({ marker: true });
    // A client before markers sends no resumeId: nothing new on the stream, the answer as in v1.
    const old = await resume({ streams: [{ stream: 's', seq: 2 }] });
    expect(await old.json()).toEqual({});
    await until(() => stream.text().split('event: event').length === 5, 'every replay');
    const frames = stream
      .text()
      .split('\n\n')
      .filter((f) => f.startsWith('event: event') || f.startsWith('event: resumed'));
    expect(frames).toEqual([
      'event: event\ndata: {"stream":"s","seq":2,"data":2}',
      'event: event\ndata: {"stream":"s","seq":3,"data":3}',
      'event: resumed\ndata: {"resumeId":"r1"}',
      'event: event\ndata: {"stream":"t","seq":1,"data":"other"}',
      'event: resumed\ndata: {"resumeId":"2"}',
      'event: event\ndata: {"stream":"s","seq":3,"data":3}',
    ]);
    stream.close();
  });

  it('a resumeId that is not a string of 1–64 characters is refused with 400 naming the limit; nothing is replayed or watched', async () => {
    const { server, listening } = await startServer();
    server.publish('s', 1);
    const stream = await openStream(listening.sseUrl);
    const headers = { 'X-Connection-ID': stream.id };
    for (const resumeId of [1, '', 'x'.repeat(65), null, ['a'], { id: 'a' }]) {
      const answer = await post(
        `${listening.sseUrl}/resume`,
        JSON.stringify({ streams: [{ stream: 's', seq: 0 }], resumeId }),
        headers,
      );
      expect(answer.status).toBe(400);
      expect(await answer.json()).toEqual({
        error: 'resumeId must be a string of 1–64 characters',
      });
    }
    const longest = 'y'.repeat(64);
    const allowed = await post(
      `${listening.sseUrl}/resume`,
      JSON.stringify({ streams: [{ stream: 's', seq: 0 }], resumeId: longest }),
      headers,
    );
    expect(allowed.status).toBe(200);
    await until(() => stream.text().includes('event: resumed'), 'the marker');
    expect(stream.text().split('event: event')).toHaveLength(2);
    expect(stream.text()).toContain(`event: resumed\ndata: {"resumeId":"${longest}"}\n\n`);
    stream.close();
  });

  it('a resumeId with a line break in it stays one data line (JSON escapes it): no event can be forged', async () => {
    const { listening } = await startServer();
    const stream = await openStream(listening.sseUrl);
    const resumeId = 'a\n\nevent: event\ndata: {"forged":true}\r\n';
    const answer = await post(
      `${listening.sseUrl}/resume`,
      JSON.stringify({ streams: [], resumeId }),
      { 'X-Connection-ID': stream.id },
    );
    expect(await answer.json()).toEqual({ marker: true });
    await until(() => stream.text().includes('event: resumed'), 'the marker');
    // No line of the stream starts an event or data of the peer's making.
    expect(stream.text()).not.toMatch(/^event: event/m);
    expect(stream.text()).not.toMatch(/^data: \{"forged"/m);
    expect(stream.text()).toContain(`event: resumed\ndata: ${JSON.stringify({ resumeId })}\n\n`);
    stream.close();
  });

  it('a refused or failed resume writes no marker; an async canWatch still puts it right after the replay', async () => {
    const { server, listening } = await startServer({
      canWatch: async (_connection, stream) => stream !== 'private',
    });
    server.publish('s', 1);
    server.faults.failNextResumes(1);
    const stream = await openStream(listening.sseUrl);
    const headers = { 'X-Connection-ID': stream.id };
    const resume = (streams: object[], resumeId: string) =>
      post(`${listening.sseUrl}/resume`, JSON.stringify({ streams, resumeId }), headers);
    expect((await resume([{ stream: 's', seq: 0 }], 'failed')).status).toBe(500);
    expect((await resume([{ stream: 'private', seq: 0 }], 'refused')).status).toBe(403);
    const allowed = await resume([{ stream: 's', seq: 0 }], 'ok');
    expect(await allowed.json()).toEqual({ marker: true });
    await until(() => stream.text().includes('event: resumed'), 'the marker');
    expect(stream.text()).not.toContain('"failed"');
    expect(stream.text()).not.toContain('"refused"');
    const after = stream.text().split('event: welcome')[1] ?? '';
    expect(after.indexOf('"seq":1')).toBeLessThan(after.indexOf('event: resumed'));
    stream.close();
  });

  it('injected faults: failing sends answer the given status; forgotten ids answer 404; authorize refuses with 401', async () => {
    let allowed = true;
    const { server, listening } = await startServer({ authorize: () => allowed });
    const stream = await openStream(listening.sseUrl);
    const headers = { 'X-Connection-ID': stream.id };
    const body = '{"messages":[{"id":"a","data":1}]}';
    server.faults.failNextSends(1, 503);
    expect((await post(`${listening.sseUrl}/send`, body, headers)).status).toBe(503);
    expect((await post(`${listening.sseUrl}/send`, body, headers)).status).toBe(200);
    server.faults.forgetConnections();
    expect((await post(`${listening.sseUrl}/send`, body, headers)).status).toBe(404);
    allowed = false;
    expect((await fetch(`${listening.sseUrl}/events`)).status).toBe(401);
    stream.close();
  });
});

describe('reference server, WebSocket', () => {
  async function openSocket(url: string) {
    const socket = new WebSocket(url);
    const frames: Array<Record<string, unknown>> = [];
    let closed: { code: number; reason: string } | undefined;
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    socket.on('close', (code, reason) => {
      closed = { code, reason: String(reason) };
    });
    await until(() => frames.length > 0, 'welcome');
    return { socket, frames, closed: () => closed };
  }

  it('greets, resumes with a replay then resumed, acks, nacks, and pings', async () => {
    const { server, listening } = await startServer({
      heartbeatMs: 30,
      onMessage: (m) => {
        if (m.id === 'bad') throw new Error('nope');
      },
    });
    server.publish('s', 'one');
    const ws = await openSocket(listening.wsUrl);
    expect(ws.frames[0]).toMatchObject({ type: 'welcome', heartbeatMs: 30 });
    ws.socket.send('{"type":"resume","streams":[{"stream":"s","seq":0}]}');
    ws.socket.send('{"type":"send","id":"good","data":1}');
    ws.socket.send('{"type":"send","id":"bad","data":2}');
    await until(() => ws.frames.some((f) => f.type === 'ping'), 'a ping');
    expect(ws.frames.slice(1, 5)).toEqual([
      { type: 'event', stream: 's', seq: 1, data: 'one' },
      { type: 'resumed' },
      { type: 'ack', id: 'good' },
      { type: 'nack', id: 'bad', error: 'nope' },
    ]);
    ws.socket.close();
  });

  it('after failing a send it handles nothing more on that socket, not even frames already buffered', async () => {
    const { server, listening, received } = await startServer();
    const ws = await openSocket(listening.wsUrl);
    server.faults.failNextSends(1);
    for (const id of ['a', 'b', 'c'])
      ws.socket.send(JSON.stringify({ type: 'send', id, data: id }));
    await until(() => ws.closed() !== undefined, 'close');
    expect(received).toEqual([]);
  });

  it.each([
    ['null', 'not a JSON object'],
    ['[]', 'not a JSON object'],
    ['42', 'not a JSON object'],
    [JSON.stringify({ type: 'x'.repeat(10_000) }), `unknown frame type "${'x'.repeat(64)}`],
  ])('closes on the frame %s with 1007 and stays up for the next socket', async (text, reason) => {
    const { listening } = await startServer();
    const a = await openSocket(listening.wsUrl);
    a.socket.send(text);
    await until(() => a.closed() !== undefined, 'close');
    expect(a.closed()?.code).toBe(1007);
    expect(String(a.closed()?.reason).slice(0, reason.length)).toBe(reason);
    const b = await openSocket(listening.wsUrl);
    expect(b.frames[0]?.type).toBe('welcome');
    b.socket.close();
  });

  it('closes on malformed JSON (1007), and on a frame over the limit (1009)', async () => {
    const { listening } = await startServer({ maxBodyBytes: 50 });
    const a = await openSocket(listening.wsUrl);
    a.socket.send('{oops');
    await until(() => a.closed() !== undefined, 'close');
    expect(a.closed()?.code).toBe(1007);
    const b = await openSocket(listening.wsUrl);
    b.socket.send(JSON.stringify({ type: 'send', id: 'x', data: 'y'.repeat(50 + 65_536) }));
    await until(() => b.closed() !== undefined, 'close');
    expect(b.closed()?.code).toBe(1009);
  });
});

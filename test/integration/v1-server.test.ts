/**
 * Compatibility (issue 12): a v2 client against a server that speaks only protocol v1 —
 * no `session` in its welcome, no `stream` frames — works exactly as before. The server
 * here is a small fake written from docs/protocol.md's v1 alone (a real `ws` server and a
 * `node:http` SSE server on 127.0.0.1, port 0): it ignores `serial`, `session` and `v`,
 * deduplicates by message id, and refuses what v1 does not know (an unknown frame: close
 * 1007; an unknown path: 404), recording each refusal so that a test can see the client
 * never sent one.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import type { Transport } from '../../adapters/transport.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import { connect, until } from './wire.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const HEARTBEAT_MS = 50;

/** One v1 link as the server sees it: how to write to it, what it follows, how to cut it. */
interface V1Link {
  readonly id: string;
  write(kind: 'welcome' | 'event' | 'ping', body: object): void;
  readonly streams: Set<string>;
  drop(): void;
}

/** What both halves of the fake share: logs, the id window, the links, faults, records. */
class V1Core {
  readonly logs = new Map<string, unknown[]>();
  /** v1's window of handled ids: a duplicate is confirmed again, never handled twice. */
  readonly handledIds = new Set<string>();
  /** What the app saw, in the order it saw it. */
  readonly received: unknown[] = [];
  /** Every request line and frame type the client sent, and each one v1 refused. */
  readonly seen: string[] = [];
  readonly refused: string[] = [];
  /** Every field name the client put on a message or a position. */
  readonly fields = new Set<string>();
  readonly links = new Map<string, V1Link>();
  /** Messages handled again under an id already handled: confirmed, not handed on. */
  duplicates = 0;
  /**
   * When the app has seen this many messages, the link that carried the last one is cut
   * before it is confirmed (a lost ack, with later messages in flight), and `onCut` runs.
   */
  cutAt = new Set<number>();
  onCut: () => void = () => {};

  publish(stream: string, data: unknown): void {
    const log = this.logs.get(stream) ?? [];
    this.logs.set(stream, log);
    log.push(data);
    const seq = log.length;
    for (const link of this.links.values())
      if (link.streams.has(stream)) link.write('event', { stream, seq, data });
  }

  /** Replay each stream after its position on `link`, and follow it; false: a bad body. */
  resume(link: V1Link, streams: unknown): boolean {
    if (!Array.isArray(streams)) return false;
    for (const position of streams as Array<{ stream?: unknown; seq?: unknown }>) {
      for (const key of Object.keys(position)) this.fields.add(`position.${key}`);
      const { stream, seq } = position;
      if (typeof stream !== 'string' || typeof seq !== 'number') return false;
      link.streams.add(stream);
      const log = this.logs.get(stream) ?? [];
      for (let at = seq; at < log.length; at++)
        link.write('event', { stream, seq: at + 1, data: log[at] });
    }
    return true;
  }

  /**
   * Handle one message by its id (v1): `ok` to confirm it, `cut` to cut the link instead,
   * `bad` for a message not of v1's shape.
   */
  take(message: Record<string, unknown>): 'ok' | 'cut' | 'bad' {
    for (const key of Object.keys(message)) this.fields.add(`message.${key}`);
    const { id, data } = message;
    if (typeof id !== 'string') return 'bad';
    if (this.handledIds.has(id)) {
      this.duplicates++;
      return 'ok';
    }
    this.handledIds.add(id);
    this.received.push(data);
    if (!this.cutAt.has(this.received.length)) return 'ok';
    this.onCut();
    return 'cut';
  }

  /** Cut every link, as a network would. */
  dropAll(): void {
    for (const link of [...this.links.values()]) link.drop();
  }

  add(link: V1Link): () => void {
    this.links.set(link.id, link);
    const beat = setInterval(() => link.write('ping', {}), HEARTBEAT_MS);
    return () => {
      clearInterval(beat);
      this.links.delete(link.id);
    };
  }
}

/** The WebSocket half: `ws://…/ws`, frames exactly as docs/protocol.md's v1 table. */
async function v1WebSocketServer(core: V1Core): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (socket: WebSocket, req) => {
    core.seen.push(`upgrade ${req.url}`);
    const link: V1Link = {
      id: randomUUID(),
      streams: new Set(),
      write: (type, body) => socket.send(JSON.stringify({ type, ...body })),
      drop: () => socket.terminate(),
    };
    const forget = core.add(link);
    socket.on('close', forget);
    link.write('welcome', { connectionId: link.id, heartbeatMs: HEARTBEAT_MS });
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as Record<string, unknown>;
      core.seen.push(`frame ${String(frame.type)}`);
      const refuse = () => {
        core.refused.push(`frame ${String(frame.type)}`);
        socket.close(1007, 'invalid frame');
      };
      if (frame.type === 'resume') {
        if (!core.resume(link, frame.streams)) return refuse();
        return socket.send('{"type":"resumed"}');
      }
      if (frame.type === 'send') {
        const verdict = core.take(frame);
        if (verdict === 'bad') return refuse();
        if (verdict === 'cut') return socket.terminate();
        return socket.send(JSON.stringify({ type: 'ack', id: frame.id }));
      }
      if (frame.type === 'suspend') return;
      refuse();
    });
  });
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws?token=app`;
}

/** The SSE half: `B = http://…/sse`, endpoints and statuses exactly as docs/protocol.md's v1. */
async function v1SseServer(core: V1Core): Promise<string> {
  const json = (res: ServerResponse, status: number, body?: object) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    core.seen.push(`${req.method} ${req.url}`);
    if (req.method === 'GET' && path === '/sse/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      const link: V1Link = {
        id: randomUUID(),
        streams: new Set(),
        write: (event, body) => res.write(`event: ${event}\ndata: ${JSON.stringify(body)}\n\n`),
        drop: () => res.destroy(),
      };
      const forget = core.add(link);
      res.on('close', forget);
      link.write('welcome', { connectionId: link.id, heartbeatMs: HEARTBEAT_MS });
      return;
    }
    let text = '';
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => {
      const link = core.links.get(String(req.headers['x-connection-id']));
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      if (path === '/sse/suspend') return json(res, 204);
      if (path !== '/sse/resume' && path !== '/sse/send') {
        core.refused.push(`${req.method} ${path}`);
        return json(res, 404, { error: 'not found' });
      }
      if (!link) return json(res, 404, { error: 'unknown connection' });
      if (path === '/sse/resume')
        return core.resume(link, body.streams) ? json(res, 200, {}) : json(res, 400, {});
      const messages = body.messages as Array<Record<string, unknown>>;
      const verdicts = messages.map((m) => core.take(m));
      if (verdicts.includes('bad')) return json(res, 400, { error: 'bad message' });
      if (verdicts.includes('cut')) {
        link.drop();
        return req.socket.destroy();
      }
      json(res, 200, { results: messages.map(({ id }) => ({ id, status: 'ok' })) });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/sse?token=app`;
}

const wires: Array<[string, (core: V1Core) => Promise<Transport>]> = [
  [
    'websocket',
    async (core) => webSocketTransport({ url: await v1WebSocketServer(core), WebSocket }),
  ],
  ['sse', async (core) => sseTransport({ url: await v1SseServer(core), EventSource })],
];

describe.each(wires)('a v2 client against a v1-only server (%s)', (_wire, transportFor) => {
  it('messages are handled once, in order, events delivered once, in order, across dropped links and lost acks; nothing but the drops is reported', async () => {
    const core = new V1Core();
    for (let i = 1; i <= 5; i++) core.publish('chat', i);
    const conn = connect({ transport: await transportFor(core) });
    const errors: string[] = [];
    conn.on('error', (error) => errors.push(error.kind));
    const events: unknown[] = [];
    conn.on('message', (data, frame) => {
      if (frame.stream === 'chat') events.push(data);
    });
    conn.watch('chat');
    // Three links cut as a message is handled, before its ack (a lost ack, later messages in
    // flight), an event published just before each cut; then the link dropped while idle.
    core.cutAt = new Set([10, 50, 90]);
    let published = 5;
    core.onCut = () => core.publish('chat', ++published);
    const sends = Array.from({ length: 120 }, (_, i) => conn.send(i, { id: `m${i}` }));
    await Promise.all(sends);
    core.dropAll();
    await until(() => conn.state === 'open' && core.links.size === 1, 'a new link');
    core.publish('chat', 9);
    await until(() => events.length === 9, 'every event');

    expect(core.received).toEqual(Array.from({ length: 120 }, (_, i) => i));
    expect(core.duplicates).toBeGreaterThanOrEqual(3);
    expect(events).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Exactly as with a v1 client: the drops are reported as such, and nothing else is.
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((kind) => kind !== 'link' && kind !== 'stale')).toEqual([]);
    expect(core.refused).toEqual([]);
    // No stream frames, so no epochs: the resumes name { stream, seq } as in v1.
    expect([...core.fields].filter((f) => f.startsWith('position.'))).toEqual([
      'position.stream',
      'position.seq',
    ]);
    expect(conn.state).toBe('open');
  });

  it('the client speaks v2 on the wire, and a v1 server, ignoring it, is never sent what it does not know', async () => {
    const core = new V1Core();
    core.publish('other', 'x');
    const conn = connect({ transport: await transportFor(core) });
    const errors: string[] = [];
    conn.on('error', (error) => errors.push(error.kind));
    conn.watch('other');
    await conn.send('hello', { id: 'h' });
    // The app stops a stream: a v1 server has no unwatch, and is told nothing.
    conn.unwatch('other');
    await conn.send('again', { id: 'a' });
    expect(core.received).toEqual(['hello', 'again']);
    expect(core.refused).toEqual([]);
    expect(errors).toEqual([]);
    // The link was opened with the session, after the app's own query.
    const opening = core.seen.find((line) => /^(upgrade|GET) /.test(line)) ?? '';
    expect(opening.endsWith(`?token=app&session=${conn.session}&v=2`)).toBe(true);
    // It sent serials, which a v1 server ignores (it deduplicates by id).
    expect(core.fields).toContain('message.serial');
  });
});

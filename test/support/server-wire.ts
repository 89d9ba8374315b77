/**
 * Raw clients of the reference server for its own tests: one shape over both wires, so a
 * guarantee of protocol v2 is checked on WebSocket and on SSE + POST alike. Each speaks
 * the wire by hand (no adapter, no machine), so the test sees exactly what the server
 * says. Servers bind 127.0.0.1 on a free port; everything opened is closed after the test.
 */
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import {
  createServer,
  type MemoryServerStore,
  type ReferenceServer,
  type ServerConnection,
  type ServerMessage,
  type ServerOptions,
  type ServerStore,
} from '../../src/server/index.js';
import { until } from '../integration/wire.js';

const opened: Array<() => unknown> = [];
/**
 * The server behind each SSE base URL: an event stream and the POSTs travel on different
 * connections, so a raw SSE client learns that it has read everything the server wrote
 * before a POST's answer by publishing to a stream of its own and reading that event.
 */
const servers = new Map<string, ReferenceServer<unknown>>();
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

export type Wire = 'websocket' | 'sse';
export const WIRES: readonly Wire[] = ['websocket', 'sse'];

/** A session id of the protocol's shape, different for each `n`. */
export const sessionId = (n: number | string) => `session-${n}-abcdefghijkl`;

/** What the server handed to `onMessage`, with the connection's principal. */
export interface Handed {
  message: ServerMessage;
  principal: string | undefined;
}

/**
 * A reference server on 127.0.0.1, port 0, closed after the test. `handed` lists every
 * call of `onMessage` (accepted or refused by the test's own `onMessage`).
 */
export async function startServer<S extends ServerStore = MemoryServerStore>(
  options: ServerOptions<S> = {},
) {
  const handed: Handed[] = [];
  const server = createServer({
    heartbeatMs: 60_000,
    ...options,
    onMessage: (message: ServerMessage, connection: ServerConnection) => {
      handed.push({ message, principal: connection.principal });
      return options.onMessage?.(message, connection);
    },
  });
  const listening = await server.listen();
  servers.set(listening.sseUrl, server);
  opened.push(() => {
    servers.delete(listening.sseUrl);
    return listening.close();
  });
  return { server, listening, handed };
}

/** One message as a client puts it on the wire. */
export interface WireMessage {
  id: string;
  data?: unknown;
  serial?: unknown;
}

/** A verdict as the wire gave it: `ok`, or `rejected` with the server's error. */
export type WireVerdict = { status: 'ok' } | { status: 'rejected'; error: unknown };

/** An event or a `stream` frame, the same whichever wire carried it. */
export type StreamFrame =
  | { type: 'event'; stream: string; seq: number; data: unknown }
  | { type: 'stream'; stream: string; epoch: string; head: number };

export interface RawClient {
  /** The welcome's fields (`connectionId`, `heartbeatMs`, `session`?). */
  readonly welcome: Record<string, unknown>;
  /** Send messages; resolves with their verdicts, or the HTTP status of a refused POST. */
  send(messages: WireMessage[]): Promise<WireVerdict[] | number>;
  /** Resume; resolves once it is answered (`resumed` / 200), or with the refusal. */
  resume(streams: unknown): Promise<'resumed' | number | { code: number; reason: string }>;
  /** Unwatch; resolves once the server has handled it (SSE: its status; WS: 'done'). */
  unwatch(streams: unknown): Promise<number | 'done' | { code: number; reason: string }>;
  /** Every event and `stream` frame so far, in order. */
  frames(): StreamFrame[];
  /** How the link ended, once it has. */
  closed(): { code?: number; status?: number; reason?: string } | undefined;
  close(): void;
}

/** Open a link over `wire`, with `query` (e.g. `session=…&v=2`) on its opening request. */
export async function open(
  wire: Wire,
  listening: { wsUrl: string; sseUrl: string },
  query = '',
): Promise<RawClient> {
  return wire === 'websocket'
    ? openSocket(`${listening.wsUrl}${query && `?${query}`}`)
    : openStream(listening.sseUrl, query);
}

/** The streams a raw SSE client syncs on start with this. */
const SYNC = '__sync-';

/** The query of a v2 link. */
export const v2 = (session: string) => `session=${session}&v=2`;

async function openSocket(url: string): Promise<RawClient> {
  const socket = new WebSocket(url);
  const frames: Array<Record<string, unknown>> = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (raw) => {
    const frame = JSON.parse(String(raw));
    if (frame.type !== 'ping') frames.push(frame);
  });
  socket.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
  });
  socket.on('error', () => {});
  opened.push(() => socket.close());
  await until(() => frames.length > 0 || closed !== undefined, 'welcome');
  const of = (type: string) => frames.filter((f) => f.type === type);
  const welcome = frames[0]?.type === 'welcome' ? (frames[0] as Record<string, unknown>) : {};
  const put = (frame: unknown) => socket.send(JSON.stringify(frame));
  /** Wait for the `resumed` of one more resume; the close if the socket closes first. */
  const resumed = async () => {
    const before = of('resumed').length;
    await until(() => of('resumed').length > before || closed !== undefined, 'resumed');
    return of('resumed').length > before ? ('resumed' as const) : (closed as typeof closed & {});
  };
  return {
    welcome,
    async send(messages) {
      const before = frames.filter((f) => f.type === 'ack' || f.type === 'nack').length;
      for (const m of messages) put({ type: 'send', ...m });
      const verdicts = () => frames.filter((f) => f.type === 'ack' || f.type === 'nack');
      await until(() => verdicts().length >= before + messages.length, 'verdicts');
      return verdicts()
        .slice(before)
        .map((f) => (f.type === 'ack' ? { status: 'ok' } : { status: 'rejected', error: f.error }));
    },
    resume(streams) {
      put({ type: 'resume', streams });
      return resumed();
    },
    async unwatch(streams) {
      put({ type: 'unwatch', streams });
      // No reply to an unwatch: an empty resume after it is answered once it was handled.
      put({ type: 'resume', streams: [] });
      const answer = await resumed();
      return answer === 'resumed' ? 'done' : answer;
    },
    frames: () =>
      frames
        .filter((f) => f.type === 'event' || f.type === 'stream')
        .map((f) => ({ ...f }) as StreamFrame),
    closed: () => closed,
    close: () => socket.close(),
  };
}

async function openStream(sseUrl: string, query: string): Promise<RawClient> {
  const controller = new AbortController();
  const response = await fetch(`${sseUrl}/events${query && `?${query}`}`, {
    signal: controller.signal,
  });
  opened.push(() => controller.abort());
  let ended: { status?: number; reason?: string } | undefined;
  if (response.status !== 200) {
    ended = { status: response.status, reason: String((await response.json()).error) };
    return closedClient(ended);
  }
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  const events: Array<{ event: string; data: Record<string, unknown> }> = [];
  let text = '';
  void (async () => {
    while (reader) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      text += decoder.decode(value);
      let end = text.indexOf('\n\n');
      while (end !== -1) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}');
        if (event !== 'ping') events.push({ event, data });
        end = text.indexOf('\n\n');
      }
    }
    ended ??= {};
  })();
  await until(() => events.length > 0, 'welcome');
  const welcome = events[0]?.data ?? {};
  const post = (path: string, body: unknown) =>
    fetch(`${sseUrl}/${path}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Connection-ID': String(welcome.connectionId),
      },
      body: JSON.stringify(body),
    });
  let syncs = 0;
  /** Read everything written so far: publish to a stream of our own, and see it arrive. */
  const sync = async () => {
    const server = servers.get(sseUrl);
    if (server === undefined || ended !== undefined) return;
    const stream = `${SYNC}${++syncs}`;
    if ((await post('resume', { streams: [{ stream, seq: 0 }] })).status !== 200) return;
    await server.publish(stream, 'sync');
    const seen = () => events.some((e) => e.event === 'event' && e.data.stream === stream);
    await until(() => seen() || ended !== undefined, 'the sync event');
    await post('unwatch', { streams: [stream] });
  };
  return {
    welcome,
    async send(messages) {
      const answer = await post('send', { messages });
      if (answer.status !== 200) return answer.status;
      const { results } = (await answer.json()) as {
        results: Array<{ status: 'ok' | 'rejected'; error?: unknown }>;
      };
      return results.map((r) =>
        r.status === 'ok' ? { status: 'ok' } : { status: 'rejected', error: r.error },
      );
    },
    async resume(streams) {
      const answer = await post('resume', { streams });
      if (answer.status !== 200) return answer.status;
      await sync();
      return 'resumed';
    },
    async unwatch(streams) {
      return (await post('unwatch', { streams })).status;
    },
    frames: () =>
      events
        .filter((e) => e.event === 'event' || e.event === 'stream')
        .filter((e) => !String(e.data.stream).startsWith(SYNC))
        .map((e) => ({ type: e.event, ...e.data }) as StreamFrame),
    closed: () => ended,
    close: () => controller.abort(),
  };
}

/** A link the server refused at its opening. */
function closedClient(ended: { status?: number; reason?: string }): RawClient {
  const refused = () => Promise.resolve(ended.status ?? 0);
  return {
    welcome: {},
    send: refused,
    resume: refused,
    unwatch: refused,
    frames: () => [],
    closed: () => ended,
    close: () => {},
  };
}

/** Wait until the link has ended (the server dropped or closed it). */
export function ended(client: RawClient, what = 'the link to end'): Promise<void> {
  return until(() => client.closed() !== undefined, what);
}

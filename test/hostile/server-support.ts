/**
 * What the hostile tests of the reference server share: a server on port 0, `ws` and SSE
 * peers, raw TCP peers that stop reading, and `opened`, what a test opened, closed after it
 * by `closeOpened` (each test file registers its own `afterEach(closeOpened)`).
 */
import { randomBytes } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';
import { WebSocket } from 'ws';
import type { ServerErrorContext } from '../../src/server/hub.js';
import { createServer, type ServerMessage, type ServerOptions } from '../../src/server/index.js';
import { until } from '../integration/wire.js';

export const opened: Array<{ close(): void }> = [];

/** Close what the test opened, last first: each test file calls this in its own `afterEach`. */
export async function closeOpened() {
  for (const each of opened.splice(0).reverse()) await each.close();
}

/** A reference server on 127.0.0.1, port 0, closed after the test; `onMessage` as given. */
export async function startServer(options: ServerOptions = {}) {
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
export function reporting() {
  const reported: Array<{ error: unknown; during: ServerErrorContext['during'] }> = [];
  const onError: ServerOptions['onError'] = (error, context) =>
    reported.push({ error, during: context.during });
  return { reported, onError };
}

/** A `ws` client that records every frame but pings, and how the socket closed. */
export async function openSocket(url: string, { welcome = true } = {}) {
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
export async function openStream(sseUrl: string) {
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
export function maskedTextFrame(text: string): Buffer {
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
export async function rawWebSocket(wsUrl: string) {
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
export async function rawEventStream(sseUrl: string) {
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
export function heldBytes(): number {
  globalThis.gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

export const fetchPost = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });

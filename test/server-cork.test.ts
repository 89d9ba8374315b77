/**
 * The reference server writes the verdicts (acks, nacks) of one tick corked: the frames one
 * read brought are answered in one write to the kernel. These tests hold it to "the same
 * bytes, in the same order; only the number of writes changes", over loopback with a raw
 * `ws` client. The client puts each burst on the wire in one write (its own socket corked),
 * so the server reads it in one go, as it would under load.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { ServerErrorContext, ServerOptions } from '../src/server/index.js';
import { until } from './integration/wire.js';
import { startServer } from './support/server-wire.js';

type Frame = Record<string, unknown>;

const opened: WebSocket[] = [];
afterEach(() => {
  for (const socket of opened.splice(0)) socket.terminate();
});

/** `ws`'s byte stream under a socket: not its public API, but what the corking uses. */
const streamOf = (socket: WebSocket) => (socket as unknown as { _socket: net.Socket })._socket;

/**
 * Count the writes to the kernel of the server's side of one link: every `_write` and
 * `_writev` of a `net.Socket` whose local port is the server's and whose peer is `client`.
 * Spies on the prototype (restored after the test, `restoreMocks`), so it sees the socket
 * the server upgraded without reaching into the server.
 */
function spyOnWrites() {
  const proto = net.Socket.prototype as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  const write = vi.spyOn(proto, '_write');
  const writev = vi.spyOn(proto, '_writev');
  /** The server's side of the link whose client side is `client`. */
  const serverSide = (client: WebSocket, port: number) => {
    const local = streamOf(client).localPort;
    return [...write.mock.contexts, ...writev.mock.contexts].find(
      (s) => (s as net.Socket).localPort === port && (s as net.Socket).remotePort === local,
    ) as net.Socket | undefined;
  };
  const count = (socket: net.Socket) =>
    [...write.mock.contexts, ...writev.mock.contexts].filter((s) => s === socket).length;
  return { serverSide, count };
}

/**
 * A raw client: every frame but pings, in order, and the bytes that came after the welcome
 * exactly as they came off the wire.
 */
async function rawClient(wsUrl: string) {
  const socket = new WebSocket(wsUrl);
  opened.push(socket);
  const frames: Frame[] = [];
  const bytes: Buffer[] = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (raw) => {
    const frame = JSON.parse(String(raw)) as Frame;
    if (frame.type !== 'ping') frames.push(frame);
  });
  socket.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
  });
  socket.on('error', () => {});
  await until(() => frames.length > 0 || closed !== undefined, 'welcome');
  expect(frames[0]?.type).toBe('welcome');
  streamOf(socket).on('data', (chunk: Buffer) => bytes.push(chunk));
  return {
    socket,
    frames,
    /** Frames after the welcome. */
    after: () => frames.slice(1),
    bytes: () => Buffer.concat(bytes),
    closed: () => closed,
    /** Every frame onto the wire in one write: the server reads them in one go. */
    burst(texts: Array<string | Buffer>) {
      const stream = streamOf(socket);
      stream.cork();
      for (const text of texts) {
        if (typeof text === 'string') socket.send(text);
        else stream.write(text);
      }
      stream.uncork();
    },
  };
}

const send = (id: string, data: unknown = id) => JSON.stringify({ type: 'send', id, data });
const ack = (id: string) => ({ type: 'ack', id });
const ids = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** An unmasked server text frame of `text`, as `ws` writes one (payload under 64 KiB). */
function serverFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header =
    payload.length < 126
      ? Buffer.from([0x81, payload.length])
      : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

/** A server that records what it reports to `onError`. */
async function server(options: ServerOptions = {}) {
  const errors: Array<{ error: unknown; context: ServerErrorContext }> = [];
  const started = await startServer({
    onError: (error, context) => errors.push({ error, context }),
    ...options,
  });
  const port = Number(new URL(started.listening.url).port);
  return { ...started, errors, port };
}

describe('server: the verdicts of one tick leave corked', () => {
  it('the acks of 200 sends read at once arrive byte for byte as unbatched, each once, in send order, in fewer writes than frames', async () => {
    const writes = spyOnWrites();
    const { listening, port, errors, handed } = await server();
    const client = await rawClient(listening.wsUrl);
    const serverSide = writes.serverSide(client.socket, port);
    expect(serverSide).toBeDefined();
    let reads = 0;
    serverSide?.on('data', () => reads++);
    const before = writes.count(serverSide as net.Socket);

    const sent = ids(200);
    client.burst(sent.map((id) => send(id)));
    await until(() => client.after().length >= sent.length, 'every ack');

    expect(client.after()).toEqual(sent.map(ack));
    // The same bytes as one frame per ack, written one at a time.
    const expected = Buffer.concat(sent.map((id) => serverFrame(JSON.stringify(ack(id)))));
    expect(client.bytes().equals(expected)).toBe(true);
    expect(handed.map((h) => h.message.id)).toEqual(sent);
    // One write per read at most; unbatched it is one write per ack.
    const made = writes.count(serverSide as net.Socket) - before;
    expect(made).toBeGreaterThan(0);
    expect(made).toBeLessThanOrEqual(reads);
    expect(made).toBeLessThan(sent.length);
    expect(errors).toEqual([]);
  });

  it('nacks are corked with the acks, in order: refused ids and serials and an app that throws', async () => {
    const writes = spyOnWrites();
    const { listening, port, errors } = await server({
      onMessage: (m) => {
        if (m.data === 'refuse') throw new Error('refused by the app');
      },
    });
    const client = await rawClient(listening.wsUrl);
    const serverSide = writes.serverSide(client.socket, port) as net.Socket;
    const before = writes.count(serverSide);
    const long = 'x'.repeat(300);
    client.burst([
      send('a'),
      send(long),
      send('b', 'refuse'),
      JSON.stringify({ type: 'send', id: 'c', data: 1, serial: 1 }),
      send('d'),
    ]);
    await until(() => client.after().length >= 5, 'five verdicts');
    expect(client.after()).toEqual([
      ack('a'),
      { type: 'nack', id: long, error: 'message ids must be 1–256 characters' },
      { type: 'nack', id: 'b', error: 'refused by the app' },
      { type: 'nack', id: 'c', error: expect.any(String) },
      ack('d'),
    ]);
    expect(writes.count(serverSide) - before).toBeLessThan(5);
    // An app that throws refuses the message: a nack, not an error.
    expect(errors).toEqual([]);
  });

  it('an event published from inside onMessage leaves in the order it was written: before its own ack, after the earlier acks', async () => {
    const writes = spyOnWrites();
    const {
      server: srv,
      listening,
      port,
      errors,
    } = await server({
      onMessage: (m) => {
        if (m.id === 'm3' || m.id === 'm7') srv.publish('s', `from ${m.id}`);
      },
    });
    const client = await rawClient(listening.wsUrl);
    client.socket.send('{"type":"resume","streams":[{"stream":"s","seq":0}]}');
    await until(() => client.after().length === 1, 'resumed');
    expect(client.after()).toEqual([{ type: 'resumed' }]);
    const serverSide = writes.serverSide(client.socket, port) as net.Socket;
    let reads = 0;
    serverSide.on('data', () => reads++);
    const before = writes.count(serverSide);

    const sent = ids(10);
    client.burst(sent.map((id) => send(id)));
    await until(() => client.after().length >= 13, 'ten acks and two events');
    // onMessage runs before the verdict is written: a message's event precedes its ack.
    const event = (seq: number, from: string) => ({
      type: 'event',
      stream: 's',
      seq,
      data: `from ${from}`,
    });
    expect(client.after().slice(1)).toEqual([
      ack('m0'),
      ack('m1'),
      ack('m2'),
      event(1, 'm3'),
      ack('m3'),
      ack('m4'),
      ack('m5'),
      ack('m6'),
      event(2, 'm7'),
      ack('m7'),
      ack('m8'),
      ack('m9'),
    ]);
    // Read at once: m0–m2 corked; the event uncorks them (1) and goes (2); m3–m6 corked,
    // flushed by the second event (3), which goes (4); m7–m9 at the end of the tick (5).
    // Each further read adds one write at most. Unbatched: 12 writes.
    const made = writes.count(serverSide) - before;
    expect(reads).toBe(1);
    expect(made).toBe(5);
    expect(errors).toEqual([]);
  });

  it('a link dropped from inside onMessage (faults.dropAll) delivers every ack written before, in order, then ends; nothing reported', async () => {
    const {
      server: srv,
      listening,
      errors,
    } = await server({
      onMessage: (m) => {
        if (m.id === 'm5') srv.faults.dropAll();
      },
    });
    const client = await rawClient(listening.wsUrl);
    client.burst(ids(10).map((id) => send(id)));
    await until(() => client.closed() !== undefined, 'the drop');
    // The acks corked before the drop were let go before the socket was destroyed.
    expect(client.after()).toEqual(ids(5).map(ack));
    expect(client.closed()?.code).toBe(1006);
    await until(() => srv.connections.size === 0, 'the connection gone');
    expect(errors).toEqual([]);
  });

  it('a link closed by the server while acks are corked (a bad frame in the same read) sends the acks, then its close', async () => {
    const { server: srv, listening, errors } = await server();
    const client = await rawClient(listening.wsUrl);
    client.burst([...ids(5).map((id) => send(id)), '{"type":"send","id":""}', send('late')]);
    await until(() => client.closed() !== undefined, 'the close');
    expect(client.after()).toEqual(ids(5).map(ack));
    expect(client.closed()).toEqual({ code: 1007, reason: 'send needs a string id' });
    await until(() => srv.connections.size === 0, 'the connection gone');
    expect(errors).toEqual([]);
  });

  it('a frame `ws` itself refuses after sends in the same read: the acks and the close frame still leave before the socket is destroyed', async () => {
    const { server: srv, listening, errors, handed } = await server();
    const client = await rawClient(listening.wsUrl);
    // Opcode 3 is reserved: `ws` closes with 1002 and emits an error, whose listeners
    // terminate the socket, in the same tick as the corked acks.
    const reserved = Buffer.from([0x83, 0x80, 1, 2, 3, 4]);
    client.burst([...ids(5).map((id) => send(id)), reserved]);
    await until(() => client.closed() !== undefined, 'the close');
    expect(handed.map((h) => h.message.id)).toEqual(ids(5));
    expect(client.after()).toEqual(ids(5).map(ack));
    expect(client.closed()?.code).toBe(1002);
    await until(() => srv.connections.size === 0, 'the connection gone');
    expect(errors).toEqual([]);
  });

  it('a peer that goes away right after its burst: nothing throws, nothing is reported, the connection is let go', async () => {
    const { server: srv, listening, errors, handed } = await server();
    const client = await rawClient(listening.wsUrl);
    client.burst(ids(50).map((id) => send(id)));
    streamOf(client.socket).destroy();
    await until(() => srv.connections.size === 0, 'the connection gone');
    // Handed or not (the read may lose the race with the reset), never twice nor out of order.
    const got = handed.map((h) => h.message.id);
    expect(got).toEqual(ids(got.length));
    expect(errors).toEqual([]);
  });

  it('acks held corked do not count as bytes the peer has not taken: a fast reader is not dropped for a burst of acks', async () => {
    // 300 acks of ~30 bytes are ~9 KB, over 4 × 1 KiB: counted while corked, the link
    // would be dropped as a slow reader although every byte goes at the end of the tick.
    const { server: srv, listening, errors } = await server({ maxBufferedBytes: 1024 });
    const client = await rawClient(listening.wsUrl);
    const sent = ids(300);
    client.burst(sent.map((id) => send(id)));
    await until(
      () => client.after().length >= sent.length || client.closed() !== undefined,
      'every ack, or the drop',
    );
    expect(client.closed()).toBeUndefined();
    expect(client.after()).toEqual(sent.map(ack));
    expect(srv.connections.size).toBe(1);
    expect(errors).toEqual([]);
  });

  it('a reader that does not read is still dropped once what it has not taken passes the limit', async () => {
    const { server: srv, listening } = await server({ maxBufferedBytes: 64 * 1024 });
    const client = await rawClient(listening.wsUrl);
    client.socket.send('{"type":"resume","streams":[{"stream":"s","seq":0}]}');
    await until(() => client.after().length === 1, 'resumed');
    streamOf(client.socket).pause();
    const chunk = 'x'.repeat(32 * 1024);
    // Acks and events interleaved, so both paths measure what is buffered.
    for (let i = 0; i < 200 && srv.connections.size > 0; i++) {
      client.socket.send(send(`m${i}`));
      srv.publish('s', chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => srv.connections.size === 0, 'the slow link dropped', 10_000);
  });

  it('while an async canWatch holds the socket paused, later sends wait; once it answers: resumed, then every ack, in order, nothing left corked', async () => {
    let answer: (ok: boolean) => void = () => {};
    let asked = 0;
    const writes = spyOnWrites();
    const { listening, port, errors } = await server({
      canWatch: () => {
        asked++;
        return new Promise<boolean>((resolve) => {
          answer = resolve;
        });
      },
    });
    const client = await rawClient(listening.wsUrl);
    const serverSide = writes.serverSide(client.socket, port) as net.Socket;
    const sent = ids(20);
    client.burst([
      send('before'),
      '{"type":"resume","streams":[{"stream":"s","seq":0}]}',
      ...sent.map((id) => send(id)),
    ]);
    await until(() => asked === 1 && client.after().length === 1, 'canWatch asked');
    // The ack before the resume was let go at the end of its tick, not held by the pause.
    expect(client.after()).toEqual([ack('before')]);
    const before = writes.count(serverSide);
    answer(true);
    await until(() => client.after().length >= 2 + sent.length, 'resumed and every ack');
    expect(client.after()).toEqual([ack('before'), { type: 'resumed' }, ...sent.map(ack)]);
    expect(writes.count(serverSide) - before).toBeLessThan(1 + sent.length);
    // Nothing left corked: a later send is answered on its own.
    client.socket.send(send('after'));
    await until(() => client.after().length === 3 + sent.length, 'the last ack');
    expect(client.after().at(-1)).toEqual(ack('after'));
    expect(errors).toEqual([]);
  });

  it('sends that arrive while an async authorize is pending are answered after the welcome, in order', async () => {
    let admit: () => void = () => {};
    const { listening, errors } = await server({
      authorize: () =>
        new Promise<string>((resolve) => {
          admit = () => resolve('p');
        }),
    });
    const socket = new WebSocket(listening.wsUrl);
    opened.push(socket);
    const frames: Frame[] = [];
    socket.on('message', (raw) => frames.push(JSON.parse(String(raw)) as Frame));
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('open', resolve));
    const sent = ids(20);
    const stream = streamOf(socket);
    stream.cork();
    for (const id of sent) socket.send(send(id));
    stream.uncork();
    admit();
    await until(() => frames.length >= 1 + sent.length, 'welcome and every ack');
    expect(frames[0]?.type).toBe('welcome');
    expect(frames.slice(1)).toEqual(sent.map(ack));
    expect(errors).toEqual([]);
  });
});

/**
 * docs/inspector.md, in Node: a connection streams to `@statelyai/inspect`'s own inspector
 * server (examples/inspector-node), and a raw `ws` client connected to that server, as the
 * inspector page is, receives the connection machine's actor, events and snapshots.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createActor } from 'xstate';
import { chatMachine } from '../../examples/embedded.js';
import { freePort, startInspector } from '../../examples/inspector-node/inspector.js';
import { createConnection } from '../../src/index.js';
import { createMemoryServer } from '../../src/memory.js';
import { until } from '../integration/wire.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Received {
  type: string;
  sessionId: string;
  name?: string;
  parentId?: string;
  definition?: string;
  event?: { type: string };
  snapshot?: { value?: unknown };
}

/** A client of the inspector server, as the inspector page is; retried until it listens. */
async function connectAsPage(port: number) {
  const received: Received[] = [];
  let socket: WebSocket | undefined;
  let open = false;
  await until(
    () => {
      if (socket === undefined) {
        const attempt = new WebSocket(`ws://127.0.0.1:${port}`);
        attempt.on('open', () => {
          open = true;
        });
        attempt.on('error', () => {
          if (socket === attempt) socket = undefined;
        });
        attempt.on('message', (raw) => received.push(JSON.parse(String(raw))));
        socket = attempt;
      }
      return open;
    },
    'the inspector server to take the page',
    20_000,
  );
  const page = socket as WebSocket;
  const closed = new Promise<void>((done) => page.once('close', () => done()));
  cleanups.push(() => {
    page.close();
    return closed;
  });
  return { socket: page, received, closed };
}

/** Whether a TCP connection to the port is refused: the server is gone. */
const refused = (port: number) =>
  new Promise<boolean>((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(true));
  });

const stateOf = (e: Received) => JSON.stringify(e.snapshot?.value);

describe('examples/inspector-node: a Node process in the Stately inspector', () => {
  it('shows the chat app machine with its connection as a child, and the holdfast.* events it hears', async () => {
    const port = await freePort();
    const inspector = startInspector(port);
    cleanups.push(() => inspector.stop());
    const page = await connectAsPage(port);
    const server = createMemoryServer({ heartbeatMs: 0 });
    const chat = createActor(chatMachine, {
      input: { transport: server.transport() },
      inspect: inspector.inspect,
    }).start();
    cleanups.push(() => chat.stop());
    chat.send({ type: 'join', room: 'room' });
    chat.send({ type: 'post', text: 'hello' });
    server.publish('room', { text: 'hi' });
    const id = chat.sessionId;
    const heard = () =>
      page.received
        .filter((e) => e.type === '@xstate.event' && e.sessionId === id)
        .map((e) => e.event?.type);
    await until(
      () => ['holdfast.delivered', 'holdfast.message'].every((t) => heard().includes(t)),
      'the chat machine hearing its connection',
      10_000,
    );
    expect(heard()).toContain('holdfast.state');
    const child = page.received.find((e) => e.type === '@xstate.actor' && e.parentId === id);
    expect(JSON.parse(child?.definition ?? '{}').id).toBe('holdfast');
  });

  it("streams the connection machine's actor, events and snapshots to the inspector server", async () => {
    const port = await freePort();
    const inspector = startInspector(port);
    let stopped = false;
    cleanups.push(() => stopped || inspector.stop());
    const page = await connectAsPage(port);
    const server = createMemoryServer({ heartbeatMs: 0 });
    const conn = createConnection({ transport: server.transport(), inspect: inspector.inspect });
    cleanups.push(() => conn.close());
    await until(() => conn.state === 'open', 'open');
    await conn.send('hello');
    conn.suspend();
    const id = conn.actor.sessionId;
    const mine = () => page.received.filter((e) => e.sessionId === id);
    await until(
      () => mine().some((e) => e.type === '@xstate.snapshot' && stateOf(e) === '"suspended"'),
      'the suspended snapshot',
      10_000,
    );
    const actor = mine().find((e) => e.type === '@xstate.actor');
    expect(actor?.name).toBe('holdfast');
    expect(JSON.parse(actor?.definition ?? '{}').id).toBe('holdfast');
    const events = mine()
      .filter((e) => e.type === '@xstate.event')
      .map((e) => e.event?.type);
    expect(events).toEqual(
      expect.arrayContaining(['link.open', 'send', 'link.verdicts', 'suspend']),
    );
    const values = mine()
      .filter((e) => e.type === '@xstate.snapshot')
      .map(stateOf);
    expect(values).toContain(JSON.stringify({ open: 'heartbeat' }));
    // The link is a child actor of the connection, drawn under it.
    expect(page.received.some((e) => e.type === '@xstate.actor' && e.parentId === id)).toBe(true);

    // The server takes no one new once stopped, but keeps the page it has: a tab left
    // open keeps a process alive (why main.ts exits on Ctrl-C).
    conn.close();
    inspector.stop();
    stopped = true;
    expect(await refused(port)).toBe(true);
    expect(page.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('main.ts: a Node process streams to the inspector until Ctrl-C, then exits 0', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'examples/inspector-node/main.ts', '--port', '0'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    cleanups.push(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exit;
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    const printed = () => /inspector: http:\/\/localhost:(\d+)/.exec(out);
    await until(() => printed() !== null, 'the inspector URL on stdout', 30_000);
    const page = await connectAsPage(Number(printed()?.[1]));
    const open = JSON.stringify({ open: 'heartbeat' });
    await until(
      () => page.received.some((e) => e.type === '@xstate.snapshot' && stateOf(e) === open),
      'the open snapshot, relayed from the process',
      20_000,
    );
    expect(page.received.some((e) => e.type === '@xstate.actor' && e.name === 'holdfast')).toBe(
      true,
    );
    child.kill('SIGINT');
    await until(() => child.exitCode !== null || child.signalCode !== null, 'the exit', 15_000);
    expect(child.exitCode, out).toBe(0);
    // The process is gone, and with it the page's socket.
    await page.closed;
  }, 60_000);
});

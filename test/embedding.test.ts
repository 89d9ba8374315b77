import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock, sendTo, setup } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import { chatMachine } from '../examples/embedded.js';
import { memoryStore } from '../src/durable.js';
import { type ConnectionParentEvent, connectionMachine } from '../src/index.js';
import { settle } from './support/settle.js';

describe('embedding', () => {
  it('the chat app machine hears every kind of child event without a bridge: state, message, delivered, dropped, error', async () => {
    const server = createMemoryServer({
      heartbeatMs: 0,
      record: true,
      // The server refuses one post for good: the app hears it dropped as rejected.
      behaviour: {
        send: (message) =>
          (message.data as { text: string }).text === 'spam'
            ? { status: 'rejected', error: 'no spam' }
            : 'ok',
      },
    });
    const chat = createActor(chatMachine, { input: { transport: server.transport() } });
    chat.start();
    expect(chat.getSnapshot().context.status).toBe('connecting');
    await settle();
    expect(chat.getSnapshot().context.status).toBe('open');
    chat.send({ type: 'join', room: 'room' });
    server.publish('room', { text: 'welcome' });
    chat.send({ type: 'post', text: 'hello' });
    chat.send({ type: 'post', text: 'spam' });
    await settle();
    const { context } = chat.getSnapshot();
    expect(context.lines).toEqual([{ text: 'welcome' }]);
    expect(server.received.map((m) => m.data)).toEqual([{ text: 'hello' }]);
    expect(context.pending).toEqual([]);
    expect(context.failed).toEqual([{ id: 'post-2', reason: 'rejected' }]);
    server.current?.drop();
    await settle();
    expect(chat.getSnapshot().context.status).toBe('reconnecting');
    expect(chat.getSnapshot().context.errors).toEqual(['link']);
    chat.send({ type: 'leave' });
    expect(chat.getSnapshot().status).toBe('done');
    expect(chat.getSnapshot().context.status).toBe('closed');
    expect(server.live).toEqual([]);
  });

  it('with a store, a parent hears holdfast.restored with what the store held, and every settle removes it from the store', async () => {
    const store = memoryStore();
    await store.open();
    await store.write({
      session: 'a-stored-session-id-22',
      reserved: 1000,
      put: [{ id: 'left', serial: 7, json: '"from last time"', retry: true, sent: false }],
    });
    await store.close();
    const heard: ConnectionParentEvent[] = [];
    const server = createMemoryServer({ heartbeatMs: 0, record: true });
    const parent = setup({ actors: { connection: connectionMachine } }).createMachine({
      invoke: {
        src: 'connection',
        input: () => ({ transport: server.transport(), store, notifyParent: true }),
      },
      on: { '*': { actions: ({ event }) => heard.push(event as ConnectionParentEvent) } },
    });
    const actor = createActor(parent).start();
    await settle();
    await settle();
    const restored = heard.find((e) => e.type === 'holdfast.restored');
    expect(restored?.type === 'holdfast.restored' && restored.messages.map((m) => m.data)).toEqual([
      'from last time',
    ]);
    expect(server.receivedBy('a-stored-session-id-22').map((m) => [m.id, m.serial])).toEqual([
      ['left', 7],
    ]);
    expect(store.snapshot().messages).toEqual([]);
    actor.stop();
  });

  it('without notifyParent a parent hears nothing, and a root actor with it runs as usual', async () => {
    const heard: string[] = [];
    const parent = setup({ actors: { connection: connectionMachine } }).createMachine({
      invoke: {
        src: 'connection',
        input: () => ({ transport: server.transport() }),
      },
      on: { '*': { actions: ({ event }) => heard.push(event.type) } },
    });
    const server = createMemoryServer({ heartbeatMs: 0 });
    const actor = createActor(parent).start();
    await settle();
    expect(heard.filter((t) => t.startsWith('holdfast.'))).toEqual([]);
    actor.stop();
    const root = createActor(connectionMachine, {
      input: { transport: server.transport(), notifyParent: true },
    }).start();
    await settle();
    expect(root.getSnapshot().matches('open')).toBe(true);
    root.stop();
  });

  it('every event a parent receives is typed: the payloads are those of the emitted events', () => {
    const types: Array<ConnectionParentEvent['type']> = [
      'holdfast.state',
      'holdfast.message',
      'holdfast.delivered',
      'holdfast.dropped',
      'holdfast.error',
    ];
    expect(new Set(types).size).toBe(5);
    const wrong = (event: ConnectionParentEvent) =>
      // @ts-expect-error a state event has no data
      event.type === 'holdfast.state' ? event.data : undefined;
    expect(typeof wrong).toBe('function');
  });

  it.each([
    ['confirmed', undefined],
    ['written', 'written'],
  ] as const)(
    'a parent hears exactly what the child emits, once each, in order (%s)',
    async (_n, delivery) => {
      const clock = new SimulatedClock();
      const server = createMemoryServer({
        heartbeatMs: 0,
        clock,
        behaviour: {
          send: (m) => ((m.data as number) % 3 === 0 ? { status: 'rejected', error: 'no' } : 'ok'),
        },
      });
      const transport = { ...server.transport(), ...(delivery ? { delivery } : {}) };
      const heard: string[] = [];
      const emitted: string[] = [];
      const describe = (e: { type: string }) =>
        JSON.stringify({ ...e, type: e.type.replace('holdfast.', '') });
      const parent = setup({ actors: { connection: connectionMachine } }).createMachine({
        invoke: {
          id: 'connection',
          src: 'connection',
          input: () => ({ transport, notifyParent: true, backoff: () => 10 }),
        },
        on: {
          '*': {
            actions: ({ event }) => {
              if (event.type.startsWith('holdfast.') && event.type !== 'holdfast.state')
                heard.push(describe(event));
            },
          },
          fwd: {
            actions: sendTo(
              'connection',
              ({ event }) => (event as unknown as { inner: never }).inner,
            ),
          },
        },
      });
      const actor = createActor(parent, { clock }).start();
      const child = actor.getSnapshot().children.connection;
      child?.on('*', (e) => emitted.push(describe(e)));
      const send = (inner: unknown) => actor.send({ type: 'fwd', inner } as never);
      await settle();
      send({ type: 'watch', stream: 's' });
      for (let i = 1; i <= 7; i++) send({ type: 'send', data: i, id: `m${i}` });
      server.publish('s', 'a');
      await settle();
      server.current?.drop();
      send({ type: 'send', data: 10, id: 'm10' });
      await settle();
      clock.increment(10);
      await settle();
      send({ type: 'send', data: 11, id: 'm11' });
      send({ type: 'close' });
      await settle();
      expect(emitted.length).toBeGreaterThan(8);
      expect(heard).toEqual(emitted);
      actor.stop();
    },
  );

  it('every action of the machine emits through parent.ts, so a parent misses nothing', () => {
    const dir = new URL('../machines/', import.meta.url);
    const bypassing = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'parent.ts' && f !== 'connection.base.ts')
      .filter((f) =>
        /connectionBase\.(emit|enqueueActions)\b|\{[^}]*\b(emit|enqueueActions)\b[^}]*\}\s*=\s*connectionBase/.test(
          readFileSync(new URL(f, dir), 'utf8'),
        ),
      );
    expect(bypassing).toEqual([]);
  });
});

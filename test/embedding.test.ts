import { describe, expect, it } from 'vitest';
import { createActor, setup } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import { chatMachine } from '../examples/embedded.js';
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
});

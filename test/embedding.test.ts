import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import { chatMachine } from '../examples/embedded.js';
import { settle } from './support/settle.js';

describe('embedding', () => {
  it('an app machine invokes the connection machine and follows it to open and to closed', async () => {
    const server = createMemoryServer({ heartbeatMs: 0, record: true });
    const chat = createActor(chatMachine, { input: { transport: server.transport() } });
    chat.start();
    expect(chat.getSnapshot().value).toBe('offline');
    await settle();
    expect(chat.getSnapshot().value).toBe('online');
    chat.send({ type: 'post', text: 'hello' });
    await settle();
    expect(server.received.map((m) => m.data)).toEqual(['hello']);
    server.current?.drop();
    await settle();
    expect(chat.getSnapshot().value).toBe('offline');
    chat.send({ type: 'leave' });
    expect(chat.getSnapshot().status).toBe('done');
    expect(server.live).toEqual([]);
  });
});

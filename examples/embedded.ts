/**
 * The connection machine as a child of an app's own machine: the app invokes it, talks to
 * it with events, and reacts when it is open (`onSnapshot`) and when it closes (`onDone`).
 */
import { sendTo, setup } from 'xstate';
import type { Transport } from '../adapters/transport.js';
import { connectionMachine } from '../src/index.js';

export const chatMachine = setup({
  types: {} as {
    input: { transport: Transport };
    context: { transport: Transport };
    events: { type: 'post'; text: string } | { type: 'leave' };
  },
  actors: { connection: connectionMachine },
}).createMachine({
  id: 'chat',
  context: ({ input }) => ({ transport: input.transport }),
  initial: 'offline',
  invoke: {
    id: 'connection',
    src: 'connection',
    input: ({ context }) => ({ transport: context.transport }),
    onSnapshot: [
      { guard: ({ event }) => event.snapshot.matches('open'), target: '.online' },
      { target: '.offline' },
    ],
    onDone: { target: '.left' },
  },
  on: {
    post: { actions: sendTo('connection', ({ event }) => ({ type: 'send', data: event.text })) },
    leave: { actions: sendTo('connection', { type: 'close' }) },
  },
  states: {
    offline: {},
    online: {},
    left: { type: 'final' },
  },
});

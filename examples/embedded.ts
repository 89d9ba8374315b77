/**
 * A chat app's own machine that embeds the connection and hears all of it. With
 * `notifyParent`, the invoked connection sends its parent every message from the server
 * (`holdfast.message`), every confirmation (`holdfast.delivered`), every message it gave
 * up on (`holdfast.dropped`), every error (`holdfast.error`) and every state it enters
 * (`holdfast.state`): the app handles them in its own config, with no bridge.
 */
import { assign, sendTo, setup } from 'xstate';
import type { Transport } from '../adapters/transport.js';
import {
  type ConnectionEvent,
  type ConnectionParentEvent,
  type ConnectionState,
  connectionMachine,
} from '../src/index.js';

/** What the app sends and what the room's stream carries. */
export interface ChatLine {
  text: string;
}

export interface ChatContext {
  transport: Transport;
  status: ConnectionState;
  /** Lines of the room, in the order the server published them. */
  lines: ChatLine[];
  /** Ids of posts not yet confirmed. */
  pending: string[];
  /** Posts the connection gave up on, with why. */
  failed: Array<{ id: string; reason: string }>;
  /** Kinds of the connection's errors, in order. */
  errors: string[];
  posted: number;
}

/** A `send` event for the connection, typed by what the app sends. */
const post = (id: string, line: ChatLine): ConnectionEvent<ChatLine> => ({
  type: 'send',
  id,
  data: line,
});

export const chatMachine = setup({
  types: {} as {
    input: { transport: Transport };
    context: ChatContext;
    events:
      | { type: 'join'; room: string }
      | { type: 'post'; text: string }
      | { type: 'leave' }
      | ConnectionParentEvent<ChatLine>;
  },
  actors: { connection: connectionMachine },
}).createMachine({
  id: 'chat',
  context: ({ input }) => ({
    transport: input.transport,
    status: 'connecting',
    lines: [],
    pending: [],
    failed: [],
    errors: [],
    posted: 0,
  }),
  invoke: {
    id: 'connection',
    src: 'connection',
    input: ({ context }) => ({ transport: context.transport, notifyParent: true }),
    onDone: { target: '.left' },
  },
  initial: 'active',
  on: {
    join: { actions: sendTo('connection', ({ event }) => ({ type: 'watch', stream: event.room })) },
    post: {
      actions: [
        assign(({ context }) => ({
          posted: context.posted + 1,
          pending: [...context.pending, `post-${context.posted + 1}`],
        })),
        sendTo('connection', ({ context, event }) =>
          post(`post-${context.posted}`, { text: event.text }),
        ),
      ],
    },
    leave: { actions: sendTo('connection', { type: 'close' }) },
    'holdfast.state': { actions: assign({ status: ({ event }) => event.state }) },
    'holdfast.message': {
      actions: assign({
        lines: ({ context, event }) => [...context.lines, event.data],
      }),
    },
    'holdfast.delivered': {
      actions: assign({
        pending: ({ context, event }) => {
          const done = new Set(event.messages.map((m) => m.id));
          return context.pending.filter((id) => !done.has(id));
        },
      }),
    },
    'holdfast.dropped': {
      actions: assign(({ context, event }) => ({
        pending: context.pending.filter((id) => id !== event.message.id),
        failed: [...context.failed, { id: event.message.id, reason: event.error.reason }],
      })),
    },
    'holdfast.error': {
      actions: assign({ errors: ({ context, event }) => [...context.errors, event.error.kind] }),
    },
  },
  states: {
    active: {},
    left: { type: 'final' },
  },
});

/**
 * The ground the connection machine stands on: its types, its one actor (the link; a
 * store brings its own, `durable.ts`), its
 * delays and its guards. The actions, grouped by concern, are built on this base
 * (`link.actions.ts`, `outbox.actions.ts`, `streams.actions.ts`, `report.actions.ts`) and
 * joined in `connection.setup.ts`; the statechart that names them all is
 * `connection.machine.ts`.
 */
import { fromCallback, setup } from 'xstate';
import { MAX_TIMEOUT_MS } from './backoff.js';
import { DURABLE } from './durable.js';
import { isLinkFailure, linkActor } from './link-actor.js';
import { outboxSize } from './outbox.js';
import type { runStore, StoreActorInput, StoreCommand } from './store-actor.js';
import type {
  ConnectionContext,
  ConnectionEmitted,
  ConnectionInput,
  MachineEvent,
} from './types.js';

export const connectionBase = setup({
  types: {} as {
    context: ConnectionContext;
    events: MachineEvent;
    input: ConnectionInput;
    emitted: ConnectionEmitted;
  },
  actors: {
    link: linkActor,
    // Named, so a persisted snapshot can name it; its body comes with the store.
    store: fromCallback<StoreCommand, StoreActorInput>((args) =>
      args.input.store[DURABLE].run(args as Parameters<typeof runStore>[0]),
    ),
  },
  delays: {
    connectTimeout: ({ context }) => context.options.connectTimeoutMs,
    resumeTimeout: ({ context }) => context.options.resumeTimeoutMs,
    // At least twice the interval the server announced, so a slow server is not dead.
    heartbeatTimeout: ({ context }) =>
      Math.min(
        Math.max(context.options.heartbeatTimeoutMs, 2 * context.serverHeartbeatMs),
        MAX_TIMEOUT_MS,
      ),
    backoff: ({ context }) => context.backoffMs,
  },
  guards: {
    hasWatchedStreams: ({ context }) => context.positions.size > 0,
    // The store opened, or there is none, or the connection went on without it (D3).
    storeSettled: ({ context }) => context.store?.status !== 'opening',
    fallsBackToMemory: ({ context }) => context.options.storeFallback === 'memory',
    outboxEmpty: ({ context }) => outboxSize(context.outbox) === 0,
    heartbeatEnabled: ({ context }) => context.options.heartbeatTimeoutMs > 0,
    attemptsExhausted: ({ context }) => context.linkAttempts >= context.options.maxAttempts,
    isFatal: ({ event }) => event.type === 'link.closed' && event.info.fatal === true,
    // A second link in a row refused for its credentials (R17).
    isAuthRefusedAgain: ({ context, event }) =>
      event.type === 'link.closed' && event.info.auth === true && context.authRefused,
    sendFailed: ({ event }) => event.type === 'link.verdicts' && event.verdicts.some(isLinkFailure),
  },
});

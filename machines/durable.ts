/**
 * What a store brings to the connection machine (durable.md). The machine names the
 * store's states, events and actions, but the code that opens, restores, saves before
 * sending and removes what settled comes with the store itself, under `DURABLE`:
 * `memoryStore()`, `indexedDbStore()` and `fileStore()` carry it, and `outboxStore()`
 * gives it to an app's own `OutboxStore`. So an app without a store bundles none of it,
 * and a connection without one runs none of it.
 */
import type { OutboxStore } from '../adapters/store.js';
import type { CollectArgs } from './parent.js';
import type { runStore } from './store-actor.js';

/** The key a store keeps its connection logic under; one key across copies of holdfast. */
export const DURABLE: unique symbol = Symbol.for('holdfast.durable');

/**
 * The shape of `DurableLogic` this machine runs. A store made by another copy of holdfast
 * (two versions in one app) carries its own number and is refused, not run against a
 * context it does not know.
 */
export const DURABLE_VERSION = 1;

/** An action body the machine hands to the store's logic when it has a store. */
export type DurableAction = (args: CollectArgs) => void;

/** The connection machine's logic for a store. */
export interface DurableLogic {
  readonly version: typeof DURABLE_VERSION;
  /** The store child's body: opens the store and writes what the machine asks (store-actor.ts). */
  readonly run: typeof runStore;
  readonly restoreOutbox: DurableAction;
  readonly reportStoreBusy: DurableAction;
  readonly fallBackToMemory: DurableAction;
  readonly closeAsStoreFailed: DurableAction;
  readonly rejectUnsaved: DurableAction;
  /** The send path of a ready store: saved before it is queued or sent (D1). */
  readonly enqueue: DurableAction;
  readonly enqueueAndSend: DurableAction;
  readonly pump: DurableAction;
  /** The action's arguments with an `emit` that also removes settled messages (D2, D7). */
  readonly removing: (args: CollectArgs) => CollectArgs;
}

/**
 * An `OutboxStore` a connection can use: one with the connection's logic for it. Made by
 * `memoryStore()`, `indexedDbStore()` (`holdfast/browser`), `fileStore()`
 * (`holdfast/node`), or `outboxStore(yourStore)`.
 */
export interface DurableStore extends OutboxStore {
  readonly [DURABLE]: DurableLogic;
}

/** The logic of a ready store, or none: the one test the send path makes. */
export function durableLogic(context: {
  readonly store?: { readonly status: string } | undefined;
  readonly options: { readonly store?: DurableStore | undefined };
}): DurableLogic | undefined {
  return context.store?.status === 'ready' ? context.options.store?.[DURABLE] : undefined;
}

/**
 * The machine's store actions (durable.md). Without a store each does nothing; with one,
 * the work is the store's logic (`durable.ts`): it spawns the store child, restores what
 * the store held (D3), reports it owned elsewhere (D5), rejects what could not be saved
 * and falls back to memory or closes (D6). What is put and removed per message is asked
 * where the outbox changes: the send path (`outbox.actions.ts`, D1) and every settled
 * message where it is emitted (`parent.ts`, D2, D7).
 */
import type { AnyActorLogic } from 'xstate';
import { DURABLE, type DurableLogic } from './durable.js';
import { enqueueActions } from './parent.js';
import type { StoreActorInput } from './store-actor.js';

type Delegated =
  | 'restoreOutbox'
  | 'reportStoreBusy'
  | 'fallBackToMemory'
  | 'closeAsStoreFailed'
  | 'rejectUnsaved';

/** An action the store's logic does, whatever the store's status. */
function delegated(name: Delegated) {
  return enqueueActions((args) => args.context.options.store?.[DURABLE][name](args));
}

export const storeActions = {
  openStore: enqueueActions(({ context, enqueue }) => {
    const { store, maxQueue } = context.options;
    const logic: DurableLogic | undefined = store?.[DURABLE];
    if (store === undefined || logic === undefined) return;
    // Not one of the machine's named actors: the store brought it (`durable.ts`).
    const spawn = enqueue.spawnChild as unknown as (
      src: AnyActorLogic,
      options: { id: string; input: StoreActorInput },
    ) => void;
    spawn(logic.actor, { id: 'store', input: { store, maxQueue } });
  }),
  restoreOutbox: delegated('restoreOutbox'),
  // Closed: the store child writes what it was asked (the removals of D7), then lets go.
  stopStore: enqueueActions(({ enqueue }) => enqueue.stopChild('store')),
  reportStoreBusy: delegated('reportStoreBusy'),
  fallBackToMemory: delegated('fallBackToMemory'),
  closeAsStoreFailed: delegated('closeAsStoreFailed'),
  noteStoreSaved: enqueueActions(({ context, event, enqueue }) => {
    if (event.type === 'store.saved' && event.upTo > context.storeSaved)
      enqueue.assign({ storeSaved: event.upTo });
  }),
  rejectUnsaved: delegated('rejectUnsaved'),
  // The watched streams' positions, written with the next batch (not per frame).
  savePositions: enqueueActions(({ context, enqueue }) => {
    if (context.storeStatus === 'ready')
      enqueue.sendTo('store', { type: 'store.write', request: 0, positions: context.positions });
  }),
};

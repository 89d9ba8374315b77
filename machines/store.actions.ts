/**
 * The machine's store actions (durable.md). Without a store each does nothing; with one,
 * the work is the store's logic (`durable.ts`): it spawns the store child, restores what
 * the store held (D3), reports it owned elsewhere (D5), rejects what could not be saved
 * and falls back to memory or closes (D6). What is put and removed per message is asked
 * where the outbox changes: the send path (`outbox.actions.ts`, D1) and every settled
 * message where it is emitted (`parent.ts`, D2, D7).
 */
import { DURABLE } from './durable.js';
import { enqueueActions } from './parent.js';

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
    if (store !== undefined)
      enqueue.spawnChild('store', { id: 'store', input: { store, maxQueue } });
  }),
  restoreOutbox: delegated('restoreOutbox'),
  // Closed: the store child writes what it was asked (the removals of D7), then lets go.
  stopStore: enqueueActions(({ enqueue }) => enqueue.stopChild('store')),
  reportStoreBusy: delegated('reportStoreBusy'),
  fallBackToMemory: delegated('fallBackToMemory'),
  closeAsStoreFailed: delegated('closeAsStoreFailed'),
  noteStoreSaved: enqueueActions(({ context, event, enqueue }) => {
    const { store } = context;
    if (event.type === 'store.saved' && store !== undefined && event.upTo > store.saved)
      enqueue.assign({ store: { ...store, saved: event.upTo } });
  }),
  rejectUnsaved: delegated('rejectUnsaved'),
  // The watched streams' positions, written with the next batch (not per frame).
  savePositions: enqueueActions(({ context, enqueue }) => {
    if (context.store?.status === 'ready')
      enqueue.sendTo('store', { type: 'store.write', request: 0, positions: context.positions });
  }),
};

/**
 * The model runner's half for a durable store: a connection on a `manualStore` whose
 * opens and writes the runner answers as the model's store events say, the wire checked
 * against what the store holds at every send (D1), and after every step what the store
 * must hold checked too (D2; D7 once closed).
 */
import { type InspectionEvent, SimulatedClock } from 'xstate';
import { createMemoryServer } from '../../adapters/memory.js';
import type { MachineEvent } from '../../machines/types.js';
import { createConnection } from '../../src/connection.js';
import { outboxStore } from '../../src/durable.js';
import { check, type Tracker, track } from '../support/invariants.js';
import { guardWire, type ManualStore, manualStore, savesAsSent } from '../support/manual-store.js';
import { settle } from '../support/settle.js';
import { MODEL_OPTIONS, type ModelEvent, type Snapshot } from './model.js';
import {
  leftInStore,
  modelAbstraction,
  type StoreFallback,
  storeAbstraction,
} from './store-model.js';

export interface StoreRun {
  readonly tracker: Tracker;
  readonly store: ManualStore;
  /** Sends that went on the wire unsaved (D1), thrown at the next check. */
  readonly unsaved: readonly { id: string; detail: string }[];
  /** The restored messages' promises, by id, settled by their `restored` handles (D3). */
  readonly left: Map<string, { resolve: () => void; reject: (error: unknown) => void }>;
  /** The ids of each `restored` the app got. */
  readonly restored: string[][];
  /** The ids the store held when it opened. */
  held?: string[];
}

/**
 * A connection over a memory server that holds every link, resume and send (as
 * `heldConnection`), on a store whose writes that save a message as sent wait for the
 * model; every other write completes at once.
 */
export function storeConnection(
  maxInFlight: number,
  fallback: StoreFallback,
  inspect: (event: InspectionEvent) => void,
): StoreRun {
  const clock = new SimulatedClock();
  const server = createMemoryServer({
    record: true,
    heartbeatMs: 0,
    dedupWindow: 0,
    behaviour: { connect: 'hold', resume: 'hold', send: 'hold' },
  });
  const store = manualStore({ autoWrite: (batch) => !savesAsSent(batch) });
  // Checked while the outbox is kept in the store: not after a fallback to memory.
  const durable = () => conn.actor.getSnapshot().context.store !== undefined;
  const wire = guardWire(server.transport({ maxInFlight }), store, durable);
  const conn = createConnection({
    ...MODEL_OPTIONS,
    store: outboxStore(store.store),
    storeFallback: fallback,
    transport: wire.transport,
    clock,
    inspect,
  });
  const tracker = track(conn, server, clock, { answersInSendOrder: true });
  const run: StoreRun = { tracker, store, unsaved: wire.unsaved, left: new Map(), restored: [] };
  conn.on('restored', (messages) => {
    run.restored.push(messages.map((message) => message.id));
    for (const message of messages) {
      const promise = run.left.get(message.id);
      if (promise) message.settled.then(promise.resolve, promise.reject);
    }
  });
  return run;
}

/** Answer the store's open the way the model says (after a busy wait is released). */
async function answerOpen(run: StoreRun, event: ModelEvent): Promise<void> {
  const { store } = run;
  if (store.waitingForRelease) {
    store.release();
    await settle();
  }
  const open = store.opens[0];
  check(
    open !== undefined,
    'model',
    `the model answers an open (${event.type}) the store never got`,
  );
  if (event.type === 'store.busy') return open.busy();
  if (event.type === 'store.open-failed') return open.fail(event.error);
  if (event.type !== 'store.opened') return;
  if (event.outbox.messages.length > 0) {
    // What a crashed process left: a message the app of this one gets as `restored`. The
    // tracker counts it as sent first (it goes before everything sent since the start).
    const id = run.tracker.send(
      (id) =>
        new Promise<void>((resolve, reject) => {
          run.left.set(id, { resolve, reject });
        }),
    );
    run.tracker.order.set(id, -1);
    run.store.preload(leftInStore('left', id));
  }
  run.held = [...store.held.messages.keys()];
  open.open();
}

/** Make the model's store event happen for real. */
export async function performStore(run: StoreRun, event: ModelEvent): Promise<void> {
  const write = run.store.writes[0];
  switch (event.type) {
    case 'store.busy':
    case 'store.opened':
    case 'store.open-failed':
      await answerOpen(run, event);
      break;
    case 'store.saved':
    case 'store.write-failed':
      check(
        write !== undefined && savesAsSent(write.batch),
        'model',
        `the model answers a write (${event.type}) the store is not waiting on`,
      );
      if (event.type === 'store.saved') write.complete();
      else write.fail(event.error);
      break;
    default:
      check(false, 'model', `the store runner cannot perform ${event.type}`);
  }
  await settle();
}

/** Whether the runner handles this event with the store. */
export function isStoreEvent(event: ModelEvent | MachineEvent): boolean {
  return event.type.startsWith('store.');
}

/**
 * After every step: the model and the real actor agree on each entry's save and on what
 * is on the disk; nothing went on the wire unsaved (D1); `restored` came once, with what
 * the store held (D3); and, when no write is on its way, the store holds no message that
 * was settled (D2).
 */
export function checkStore(run: StoreRun, predicted: Snapshot, where: string): void {
  const real = run.tracker.conn.actor.getSnapshot();
  const [disk] = run.store.writes;
  const expected = modelAbstraction(predicted);
  const actual = storeAbstraction(real, disk && new Set((disk.batch.put ?? []).map((m) => m.id)));
  check(
    actual === expected,
    'model store',
    `${where}: expected ${expected}, the real actor has ${actual}`,
  );
  if (run.held !== undefined && real.context.store?.status === 'ready')
    check(
      run.restored.length === 1 && run.restored[0]?.join() === run.held.join(),
      'D3 restored',
      `${where}: restored ${JSON.stringify(run.restored)}, the store held ${run.held}`,
    );
  checkSaved(run, where);
}

function checkSaved(run: StoreRun, where: string): void {
  const [unsaved] = run.unsaved;
  check(
    unsaved === undefined,
    'D1 saved before sent',
    `${where}: ${unsaved?.id} went on the wire, but ${unsaved?.detail}`,
  );
  // Removals may wait for a write on its way, or for the next one after a failed write.
  if (run.store.writes.length > 0 || run.store.failedSince) return;
  const settled = [
    ...run.tracker.confirmed,
    ...run.tracker.dropped.map((error) => error.messageId),
  ];
  for (const id of settled)
    check(
      !run.store.held.messages.has(id),
      'D2 removed when settled',
      `${where}: ${id} was settled, yet the store still holds it with no write on its way`,
    );
}

/**
 * Once the connection is closed: every write it still asked for is let through, then
 * the store must hold no message (D7) and have been let go of (D5).
 */
export async function finishStore(run: StoreRun, where: string): Promise<void> {
  for (let round = 0; round < 10 && run.store.writes.length > 0; round++) {
    for (const write of [...run.store.writes]) write.complete();
    await settle();
  }
  checkSaved(run, where);
  const left = [...run.store.held.messages.keys()];
  check(left.length === 0, 'D7 close empties the store', `${where}: the store still holds ${left}`);
  // D5: the owner lets go; a connection that only waited withdraws its wait.
  check(!run.store.owned, 'D5 one owner', `${where}: the closed connection kept the store`);
  check(
    !run.store.waitingForRelease,
    'D5 one owner',
    `${where}: the closed connection still waits for the store`,
  );
}

/**
 * The model with a durable store (durable.md D1–D3, D5–D7): the events the store actor
 * can tell the machine — opened (with nothing, or with a message a crashed process left
 * saved as sent), busy, open failed, a write saved or failed — beside a smaller set of
 * link and app events (the configurations without a store cover the rest).
 *
 * What the store actor has on the disk and what waits behind it is not in the machine's
 * context. So the model keeps it beside each snapshot (`StoreSide`): it notes every
 * command the machine sends its store actor in the pure transition (through the actor
 * scope's `actionExecutor`) and batches them as the actor does. The runner's store
 * completes at once every write that saves nothing as sent (removals, messages queued
 * offline, positions), so the model does too; the writes the machine waits for (D1) are
 * the model's to answer: saved, or failed.
 */
import type { AnyActorScope } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import type { StoredOutbox } from '../../adapters/store.js';
import { connectionMachine } from '../../machines/connection.machine.js';
import type { ConnectionInput } from '../../machines/options.js';
import { UNSAVED } from '../../machines/outbox.js';
import { toArray } from '../../machines/queue.js';
import { checkStoredOutbox } from '../../machines/restore.js';
import type { StoreCommand } from '../../machines/store-actor.js';
import type { MachineEvent } from '../../machines/types.js';
import {
  eventKey,
  isUsable,
  MODEL_OPTIONS,
  type ModelEvent,
  type ModelPath,
  type Snapshot,
  stateKey,
} from './model.js';

/** What the store does when it cannot be opened: the two values of `storeFallback`. */
export type StoreFallback = 'close' | 'memory';

/** A batch of the store actor: the highest request in it and the messages it puts. */
interface Batch {
  readonly upTo: number;
  /** Each message put, by id: whether it is saved as sent. */
  readonly put: ReadonlyMap<string, boolean>;
  readonly removes: boolean;
}

const EMPTY: Batch = { upTo: 0, put: new Map(), removes: false };

/**
 * The store actor beside a snapshot: what the machine's context does not say. It is
 * kept as the actor keeps it (machines/store-actor.ts): the commands of a step join the
 * waiting batch; a batch is written when none is on the disk; one that saves nothing as
 * sent completes at once (the runner's store holds only the writes the machine waits
 * for); after a failed write the waiting batch goes only if the machine asked for more.
 */
export interface StoreSide {
  /** The store answered busy once already (the actor tells the machine only once). */
  readonly busy: boolean;
  /** The write on the disk, if any. */
  readonly writing: Batch | undefined;
  /** What waits for it. */
  readonly waiting: Batch;
  /** The machine asked for something since the write on the disk started. */
  readonly asked: boolean;
  /** A write failed and the machine asked for nothing since: the waiting batch stays. */
  readonly stalled: boolean;
}

const NO_WRITES: StoreSide = {
  busy: false,
  writing: undefined,
  waiting: EMPTY,
  asked: false,
  stalled: false,
};
const sides = new WeakMap<Snapshot, StoreSide>();

export function storeSide(snapshot: Snapshot): StoreSide {
  return sides.get(snapshot) ?? NO_WRITES;
}

/** The session a crashed process left in the store, with one message saved as sent. */
export const LEFT_SESSION = 'left-by-a-crashed-process';

/** What the store holds when it opens: nothing, or one message saved as sent (D3). */
export function leftInStore(kind: 'empty' | 'left', id: string): StoredOutbox {
  if (kind === 'empty')
    return { session: undefined, reserved: 0, messages: [], positions: [], problems: [] };
  return {
    session: LEFT_SESSION,
    reserved: 1000,
    messages: [{ id, serial: 7, json: '"left"', retry: true, sent: true }],
    positions: [],
    problems: [],
  };
}

/** The machine's `store.opened` for what the store holds. */
function opened(kind: 'empty' | 'left'): ModelEvent {
  return {
    type: 'store.opened',
    outbox: checkStoredOutbox(leftInStore(kind, 'left-1'), MODEL_OPTIONS.maxQueue),
  };
}

/**
 * Each entry (queued | in flight) as whether it was on the wire and where its save
 * stands: w in the write on the disk, s saved as sent, u not saved as sent and not asked
 * for, r asked for in a write still to come.
 */
export function storeEntries(snapshot: Snapshot, onDisk: ReadonlySet<string>): string {
  const { outbox } = snapshot.context;
  const storeSaved = snapshot.context.store?.saved ?? UNSAVED;
  const saved = (e: { savedAt: number; id: string }) =>
    onDisk.has(e.id) ? 'w' : e.savedAt <= storeSaved ? 's' : e.savedAt === UNSAVED ? 'u' : 'r';
  // Whether it was on the wire, not how often: attempts run out in the other configurations.
  const entry = (e: { attempts: number; savedAt: number; id: string }) =>
    `${Math.min(e.attempts, 1)}${saved(e)}`;
  return `${toArray(outbox.queue).map(entry).join(',')}|${toArray(outbox.inFlight).map(entry).join(',')}`;
}

/**
 * The abstract state with a store: the leaf state, the store's status, each entry, and
 * whether a write is on the disk. The runner compares the real actor's with the model's.
 */
export function storeAbstraction(
  snapshot: Snapshot,
  onDisk: ReadonlySet<string> | undefined,
): string {
  return [
    stateKey(snapshot.value),
    `s:${snapshot.context.store?.status ?? 'memory'}`,
    `e:${storeEntries(snapshot, onDisk ?? new Set())}`,
    `disk:${onDisk === undefined ? 0 : 1}`,
  ].join(' ');
}

/** The abstract state of a model snapshot (see `storeAbstraction`). */
export function modelAbstraction(snapshot: Snapshot): string {
  const { writing } = storeSide(snapshot);
  return storeAbstraction(snapshot, writing && new Set(writing.put.keys()));
}

/**
 * A vertex of the graph: coarser than `serialize` (link attempts and the backoff are the
 * other configurations' to cover; merging vertices only leaves paths out, never makes
 * one up), with what waits for the disk.
 */
export function serializeStore(snapshot: Snapshot): string {
  const side = storeSide(snapshot);
  const { outbox } = snapshot.context;
  // Each waiting put by its entry's place in the outbox: ids differ between paths.
  const places = new Map(
    [...toArray(outbox.queue), ...toArray(outbox.inFlight)].map((e, i) => [e.id, i]),
  );
  const puts: string[] = [];
  // Puts of messages no longer in the outbox, as one mark: the graph stays finite.
  let gone = 0;
  for (const [id, sent] of side.waiting.put) {
    const place = places.get(id);
    if (place === undefined) gone = Math.max(gone, sent ? 2 : 1);
    else puts.push(`${place}:${+sent}`);
  }
  return [
    modelAbstraction(snapshot),
    `waiting:${side.waiting.upTo > 0 ? 1 : 0}/${puts.join(',')}/${gone}${side.waiting.removes ? '+rm' : ''}`,
    `asked:${side.asked && side.writing !== undefined ? 1 : 0} stalled:${side.stalled ? 1 : 0}`,
    // Whether the store answered busy matters only until it opens.
    `busy:${side.busy && snapshot.context.store?.status === 'opening' ? 1 : 0}`,
  ].join(' ');
}

/** The link and app events of the store configurations: enough to send, settle and lose. */
function appAndLinkEvents(snapshot: Snapshot, fallback: StoreFallback): ModelEvent[] {
  const key = stateKey(snapshot.value);
  const { context } = snapshot;
  const events: ModelEvent[] = [{ type: 'send', data: 'd', retry: true }, { type: 'close' }];
  const [head] = toArray(context.outbox.inFlight);
  if (key.endsWith('opening')) events.push({ type: 'link.open', heartbeatMs: 0 });
  if (isUsable(key) && head)
    events.push({ type: 'link.verdicts', verdicts: [{ id: head.id, outcome: { status: 'ok' } }] });
  // Going on in memory after a failed open: sends and confirmations are all it needs.
  if (fallback === 'memory') return events;
  // Suspended while the store opens, so it opens in another state than connecting.
  if (context.store?.status === 'opening') events.push({ type: 'suspend' });
  if (key === 'suspended') events.push({ type: 'resume' });
  const withdrawable = toArray(context.outbox.queue).find((e) => e.attempts === 0);
  if (withdrawable) events.push({ type: 'abort', id: withdrawable.id });
  // A usable link lost: what it left unconfirmed is saved already and goes again at once.
  if (isUsable(key)) events.push({ type: 'link.closed', info: { reason: 'dropped' } });
  if (key === 'reconnecting.waiting')
    events.push({
      type: 'xstate.after.backoff.holdfast.reconnecting.waiting',
    } as unknown as ModelEvent);
  return events;
}

/** Every event that can happen in this state with a store. */
export function storeModelEvents(fallback: StoreFallback) {
  return (snapshot: Snapshot): ModelEvent[] => {
    if (snapshot.status !== 'active') return [];
    const events = appAndLinkEvents(snapshot, fallback);
    const side = storeSide(snapshot);
    if (snapshot.context.store?.status === 'opening') {
      events.push({ type: 'store.open-failed', error: new Error('no storage') });
      if (fallback === 'memory') return events;
      if (!side.busy) events.push({ type: 'store.busy' });
      events.push(opened('empty'), opened('left'));
    }
    const { writing } = side;
    if (writing !== undefined) {
      events.push({ type: 'store.saved', upTo: writing.upTo });
      events.push({
        type: 'store.write-failed',
        upTo: writing.upTo,
        ids: [...writing.put.keys()],
        error: new Error('disk full'),
      });
    }
    return events;
  };
}

/** `eventKey`, with what tells the store's answers apart. */
export function storeEventKey(event: ModelEvent): string {
  if (event.type === 'store.opened')
    return `${event.type}:${event.outbox.messages.length > 0 ? 'left' : 'empty'}`;
  return eventKey(event);
}

/** A scope that also notes every command the machine sends its store actor. */
function noting(scope: AnyActorScope, commands: StoreCommand[]): AnyActorScope {
  const base = scope.actionExecutor;
  return {
    ...scope,
    actionExecutor: (action) => {
      const params = action.params as { targetId?: unknown; event?: unknown } | undefined;
      if (action.type === 'xstate.sendTo' && params?.targetId === 'store')
        commands.push(params.event as StoreCommand);
      base(action);
    },
  };
}

/** The waiting batch with the machine's commands added, as the actor's `receive` does. */
function receive(batch: Batch, commands: readonly StoreCommand[]): Batch {
  if (commands.length === 0) return batch;
  let { upTo, removes } = batch;
  const put = new Map(batch.put);
  for (const command of commands) {
    upTo = Math.max(upTo, command.request);
    for (const message of command.put ?? []) put.set(message.id, message.sent);
    for (const id of command.remove ?? []) {
      put.delete(id);
      removes = true;
    }
  }
  return { upTo, put, removes };
}

/** The machine as graph logic, with the store actor kept beside each snapshot. */
export const storeModelLogic = {
  getInitialSnapshot: (scope: AnyActorScope, input: unknown) =>
    connectionMachine.getInitialSnapshot(scope, input as never),
  transition(snapshot: Snapshot, event: ModelEvent, scope: AnyActorScope): Snapshot {
    const commands: StoreCommand[] = [];
    const step = (from: Snapshot, e: MachineEvent) =>
      connectionMachine.transition(from, e, noting(scope, commands));
    let { busy, writing, waiting, asked, stalled } = storeSide(snapshot);
    // The actor tells `store.saved` only of a write that held a request.
    const told = event.type !== 'store.saved' || event.upTo > 0;
    let next = told ? step(snapshot, event as MachineEvent) : snapshot;
    if (event.type === 'store.busy') busy = true;
    const failed = event.type === 'store.write-failed';
    // The write on the disk answered; a failed one's removals wait for the next write.
    if (event.type === 'store.saved' || failed) {
      if (failed && writing?.removes) waiting = { ...waiting, removes: true };
      writing = undefined;
    }
    const take = () => {
      if (commands.length === 0) return;
      waiting = receive(waiting, commands.splice(0));
      asked = true;
      stalled = false;
    };
    take();
    if (failed) stalled = !asked;
    for (let round = 0; ; round++) {
      if (round > 100) throw new Error(`the store actor never settles after ${event.type}`);
      take();
      const empty = waiting.upTo === 0 && waiting.put.size === 0 && !waiting.removes;
      if (writing !== undefined || stalled || empty) break;
      writing = waiting;
      waiting = EMPTY;
      asked = false;
      if ([...writing.put.values()].some((sent) => sent)) break;
      // Nothing in it saved as sent: the runner's store completes it at once.
      const { upTo } = writing;
      writing = undefined;
      if (upTo > 0) next = step(next, { type: 'store.saved', upTo });
    }
    // A snapshot the event left as it was (store.busy only reports) is copied, so the
    // one it came from keeps its own store beside it. A snapshot is a plain object.
    const kept = next === snapshot ? { ...next } : next;
    sides.set(kept, { busy, writing, waiting, asked, stalled });
    return kept;
  },
};

/** One shortest path per edge of the abstract graph with a store (see `modelPaths`). */
export function storeModelPaths(input: ConnectionInput, fallback: StoreFallback): ModelPath[] {
  return getShortestPaths(
    storeModelLogic as never,
    {
      input: { ...input, storeFallback: fallback } as never,
      events: storeModelEvents(fallback) as never,
      serializeState: ((
        state: Snapshot,
        event: ModelEvent | undefined,
        prev: Snapshot | undefined,
      ) =>
        `${prev ? serializeStore(prev) : '∅'} | ${event ? storeEventKey(event) : 'init'} | ${serializeStore(state)}`) as never,
      stopWhen: ((state: Snapshot) => state.status === 'done') as never,
      // A graph past this is one the abstraction let grow without bound: fail, never hang.
      limit: 100_000,
    } as never,
  ) as unknown as ModelPath[];
}

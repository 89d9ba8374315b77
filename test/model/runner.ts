/**
 * Replays a model path on a real connection: a real actor over the memory transport on a
 * `SimulatedClock`. Each model event becomes what would cause it for real (the server
 * accepts a link, answers a send, drops the link; the clock passes a timeout; the app
 * calls the API). After every step the runner asserts the state the pure `transition()`
 * predicted and the invariants of the connection.
 */
import type { AnyTransitionDefinition, InspectionEvent } from 'xstate';
import type { ServerLink } from '../../adapters/memory.js';
import { toArray } from '../../machines/queue.js';
import { callApp } from '../support/app-calls.js';
import { heldConnection } from '../support/held.js';
import { check, checkClosed, checkInvariants, type Tracker } from '../support/invariants.js';
import { settle } from '../support/settle.js';
import {
  MODEL_OPTIONS,
  MODEL_TIMING,
  type ModelEvent,
  type ModelPath,
  STREAM,
  stateKey,
} from './model.js';
import type { StoreFallback } from './store-model.js';
import {
  checkStore,
  finishStore,
  isStoreEvent,
  performStore,
  type StoreRun,
  storeConnection,
} from './store-runner.js';

/** A configuration of the model: the transport's window, and a store if any. */
export interface ModelSetup {
  readonly maxInFlight: number;
  /** With a durable store, and what to do when it cannot be opened. */
  readonly store?: StoreFallback;
}

function describeStep(path: ModelPath, index: number): string {
  return path.steps
    .slice(0, index + 1)
    .map((s) => s.event.type)
    .join(' → ');
}

const DELAYS: Record<string, number> = {
  connectTimeout: MODEL_TIMING.connectTimeoutMs,
  resumeTimeout: MODEL_TIMING.resumeTimeoutMs,
  heartbeatTimeout: MODEL_TIMING.heartbeatTimeoutMs,
  backoff: MODEL_TIMING.backoffMs,
};

interface Run {
  tracker: Tracker;
  /** Each message's abort controller, by id. */
  aborts: Map<string, AbortController>;
  /** The store and what is checked of it, with a store. */
  durable?: StoreRun;
}

function current(run: Run): ServerLink {
  const link = run.tracker.server.current;
  check(link !== undefined, 'model', 'the model expects a link, but the server has none');
  return link;
}

/** Make the model's event happen for real. */
async function perform(run: Run, event: ModelEvent): Promise<void> {
  const { conn, clock } = run.tracker;
  if (run.durable !== undefined && isStoreEvent(event)) return performStore(run.durable, event);
  if (event.type.startsWith('xstate.after.')) {
    const delay = event.type.split('.')[2] ?? '';
    const ms = DELAYS[delay];
    check(ms !== undefined, 'model', `unknown delay ${delay}`);
    clock.increment(ms);
    return settle();
  }
  switch (event.type) {
    case 'send': {
      for (const message of 'messages' in event ? event.messages : [event]) {
        const controller = new AbortController();
        const id = run.tracker.send((id) =>
          conn.send(message.data, {
            id,
            retry: message.retry !== false,
            signal: controller.signal,
          }),
        );
        run.aborts.set(id, controller);
      }
      break;
    }
    case 'abort': {
      // The model's ids are its own; withdraw the real message in the same place.
      const real = toArray(conn.actor.getSnapshot().context.outbox.queue).find(
        (e) => e.attempts === 0,
      );
      check(
        real !== undefined,
        'model',
        'the model withdraws a message the real outbox does not have',
      );
      run.aborts.get(real.id)?.abort();
      break;
    }
    case 'watch':
    case 'unwatch':
    case 'suspend':
    case 'resume':
    case 'close':
      callApp(conn, event);
      break;
    case 'watch-refused': {
      conn.watch(STREAM, 0);
      await settle();
      const link = current(run);
      const pending = link.pendingResumes[link.pendingResumes.length - 1];
      check(pending !== undefined, 'R20 watch resumes', 'a watch on a usable link sent no resume');
      pending.fail(new Error('refused'));
      break;
    }
    case 'link.open':
      current(run).accept();
      break;
    case 'link.closed':
      current(run).drop(event.info);
      break;
    case 'link.resumed':
    case 'link.resume-failed': {
      const pending = current(run).pendingResumes[0];
      check(pending !== undefined, 'model', 'the model answers a resume the server never got');
      if (event.type === 'link.resumed') pending.ok();
      else pending.fail(event.error);
      break;
    }
    case 'link.verdicts': {
      // Answered in one go, so the link actor hands them over as one event.
      const pending = current(run).pendingSends.slice(0, event.verdicts.length);
      check(
        pending.length === event.verdicts.length,
        'model',
        'the model answers a send the server never got',
      );
      for (const [i, verdict] of event.verdicts.entries()) {
        pending[i]?.answer(verdict.outcome);
        const { status } = verdict.outcome;
        if (status === 'stale' || status === 'retry') break;
        if (status === 'ok') run.tracker.acked(pending[i]?.message.id ?? '');
      }
      break;
    }
    case 'link.frame':
      current(run).push(event.frame);
      break;
    case 'link.alive':
      current(run).ping();
      break;
    case 'link.stream':
      current(run).pushStream(event.head);
      break;
    case 'ack.timeout':
      // What the delayed event does when it fires: the model's timer is never armed for
      // real (MODEL_OPTIONS.ackTimeoutMs), so the runner delivers it.
      conn.actor.send({ type: 'ack.timeout' });
      break;
    default:
      check(false, 'model', `the runner cannot perform ${event.type}`);
  }
  await settle();
}

/**
 * Replay `path`, asserting the predicted state and the invariants after every step.
 * Every transition the real actor takes is added to `taken`.
 */
export async function replay(
  path: ModelPath,
  setup: ModelSetup,
  taken: Set<AnyTransitionDefinition>,
): Promise<void> {
  const { maxInFlight, store } = setup;
  const inspect = (event: InspectionEvent) => {
    if (event.type === '@xstate.microstep') for (const t of event._transitions) taken.add(t);
  };
  const durable = store === undefined ? undefined : storeConnection(maxInFlight, store, inspect);
  const tracker =
    durable?.tracker ??
    heldConnection({
      maxInFlight,
      dedupWindow: 0,
      // The model answers sends in send order: confirmations must come in send order too.
      answersInSendOrder: true,
      connection: { ...MODEL_OPTIONS, inspect },
    });
  const { conn } = tracker;
  const run: Run = { tracker, aborts: new Map(), ...(durable ? { durable } : {}) };
  try {
    await settle();
    for (const [index, step] of path.steps.entries()) {
      if ((step.event.type as string) === 'xstate.init') continue;
      await perform(run, step.event);
      const where = describeStep(path, index);
      const actual = stateKey(conn.actor.getSnapshot().value);
      const expected = stateKey(step.state.value);
      check(
        actual === expected,
        'model state',
        `${where}: expected ${expected}, the real actor is in ${actual}`,
      );
      checkInvariants(tracker, where);
      if (durable) checkStore(durable, step.state, where);
    }
    // Whatever was still pending is reported once the connection closes.
    conn.close();
    await settle();
    const closing = `${describeStep(path, path.steps.length - 1)} → close()`;
    if (durable) await finishStore(durable, closing);
    checkClosed(tracker, closing);
  } finally {
    conn.close();
  }
}

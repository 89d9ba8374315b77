/**
 * Replays a model path on a real connection: a real actor over the memory transport on a
 * `SimulatedClock`. Each model event becomes what would cause it for real (the server
 * accepts a link, answers a send, drops the link; the clock passes a timeout; the app
 * calls the API). After every step the runner asserts the state the pure `transition()`
 * predicted and the invariants of the connection.
 */
import { type AnyTransitionDefinition, type InspectionEvent, SimulatedClock } from 'xstate';
import { createMemoryServer, type MemoryServer, type ServerLink } from '../../adapters/memory.js';
import type { DeliveryError } from '../../machines/errors.js';
import { toArray } from '../../machines/queue.js';
import { createConnection } from '../../src/connection.js';
import { settle } from '../helpers.js';
import {
  MODEL_OPTIONS,
  MODEL_TIMING,
  type ModelEvent,
  type ModelPath,
  STREAM,
  stateKey,
} from './model.js';

export class InvariantError extends Error {
  override name = 'InvariantError';
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
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
  server: MemoryServer;
  clock: SimulatedClock;
  conn: ReturnType<typeof createConnection>;
  /** Send order of every message the app sent in this run, by id. */
  order: Map<string, number>;
  delivered: string[];
  dropped: DeliveryError[];
  aborts: Map<string, AbortController>;
  /** Links that opened while a stream was watched: they owe a resume before any send. */
  handshakes: Set<ServerLink>;
  /** Links already seen open. */
  seenOpen: Set<ServerLink>;
  /** Sends the server just confirmed on the live link: each must resolve on it. */
  acked: string[];
}

function current(run: Run): ServerLink {
  const link = run.server.current;
  check(link !== undefined, 'the model expects a link, but the server has none');
  return link;
}

/** Make the model's event happen for real. */
async function perform(run: Run, event: ModelEvent): Promise<void> {
  const { conn } = run;
  if (event.type.startsWith('xstate.after.')) {
    const delay = event.type.split('.')[2] ?? '';
    const ms = DELAYS[delay];
    check(ms !== undefined, `unknown delay ${delay}`);
    run.clock.increment(ms);
    return settle();
  }
  switch (event.type) {
    case 'send': {
      for (const message of 'messages' in event ? event.messages : [event]) {
        const id = `s${run.order.size + 1}`;
        const controller = new AbortController();
        run.order.set(id, run.order.size);
        run.aborts.set(id, controller);
        conn
          .send(message.data, { id, retry: message.retry !== false, signal: controller.signal })
          .then(
            () => run.delivered.push(id),
            () => {},
          );
      }
      break;
    }
    case 'abort': {
      // The model's ids are its own; withdraw the real message in the same place.
      const real = toArray(conn.actor.getSnapshot().context.outbox.queue).find(
        (e) => e.attempts === 0,
      );
      check(real !== undefined, 'the model withdraws a message the real outbox does not have');
      run.aborts.get(real.id)?.abort();
      break;
    }
    case 'watch':
      conn.watch(event.stream, event.seq);
      break;
    case 'unwatch':
      conn.unwatch(event.stream);
      break;
    case 'suspend':
      conn.suspend();
      break;
    case 'resume':
      conn.resume();
      break;
    case 'close':
      conn.close();
      break;
    case 'watch-refused': {
      conn.watch(STREAM, 0);
      await settle();
      const link = current(run);
      const pending = link.pendingResumes[link.pendingResumes.length - 1];
      check(pending !== undefined, 'a watch on a usable link sent no resume');
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
      check(pending !== undefined, 'the model answers a resume the server never got');
      if (event.type === 'link.resumed') pending.ok();
      else pending.fail(event.error);
      break;
    }
    case 'link.verdicts': {
      // Answered in one go, so the link actor hands them over as one event.
      const pending = current(run).pendingSends.slice(0, event.verdicts.length);
      check(
        pending.length === event.verdicts.length,
        'the model answers a send the server never got',
      );
      for (const [i, verdict] of event.verdicts.entries()) {
        pending[i]?.answer(verdict.outcome);
        const { status } = verdict.outcome;
        if (status === 'stale' || status === 'retry') break;
        if (status === 'ok') run.acked.push(pending[i]?.message.id ?? '');
      }
      break;
    }
    case 'link.frame':
      current(run).push(event.frame);
      break;
    case 'link.alive':
      current(run).ping();
      break;
    default:
      throw new InvariantError(`the runner cannot perform ${event.type}`);
  }
  await settle();
}

function checkInvariants(run: Run, where: string, enteredOpen: boolean): void {
  const snapshot = run.conn.actor.getSnapshot();
  const outbox = [
    ...toArray(snapshot.context.outbox.inFlight),
    ...toArray(snapshot.context.outbox.queue),
  ];

  // FIFO: messages are confirmed in the order they were sent.
  const confirmed = run.delivered.map((id) => run.order.get(id) ?? -1);
  check(
    confirmed.every((n, i) => i === 0 || n > (confirmed[i - 1] ?? -1)),
    `${where}: confirmations out of send order: ${run.delivered.join(',')}`,
  );
  // Nothing lost: every message is confirmed, reported dropped, or still in the outbox.
  const accounted = new Set([
    ...run.delivered,
    ...run.dropped.map((e) => e.messageId),
    ...outbox.map((e) => e.id),
  ]);
  for (const id of run.order.keys())
    check(accounted.has(id), `${where}: message ${id} vanished unreported`);
  // The outbox keeps send order too.
  const queued = outbox.map((e) => run.order.get(e.id) ?? -1);
  check(
    queued.every((n, i) => i === 0 || n > (queued[i - 1] ?? -1)),
    `${where}: outbox out of send order: ${outbox.map((e) => e.id).join(',')}`,
  );
  // No send on a link before its resume succeeded (checked after every step, so the
  // first send that came too early is caught while the handshake is still unanswered).
  const link = run.server.current;
  if (link?.state === 'open' && !run.seenOpen.has(link)) {
    run.seenOpen.add(link);
    if (snapshot.context.positions.size > 0) run.handshakes.add(link);
  }
  for (const link of run.handshakes) {
    const [first] = link.log;
    check(first?.kind === 'resume', `${where}: link ${link.id} did not start with its resume`);
    if (link.log.some((r) => r.kind === 'send')) {
      check(
        first.answer === 'ok',
        `${where}: link ${link.id} carried a send before its resume succeeded`,
      );
    }
  }
  // Open only with an empty outbox.
  if (enteredOpen)
    check(
      outbox.length === 0,
      `${where}: entered open with ${outbox.length} message(s) in the outbox`,
    );
  // A send the server confirmed resolves on that confirmation, every one of a batch.
  for (const id of run.acked.splice(0))
    check(run.delivered.includes(id), `${where}: ${id} was acked but not resolved`);
  // At most one live link.
  check(run.server.live.length <= 1, `${where}: ${run.server.live.length} live links`);
  // Nothing alive after closed.
  if (snapshot.status === 'done') {
    const timers = (run.clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;
    check(timers === 0, `${where}: ${timers} timer(s) alive after closed`);
    check(run.server.live.length === 0, `${where}: a link is alive after closed`);
    check(outbox.length === 0, `${where}: messages left in a closed outbox`);
  }
}

/**
 * Replay `path`, asserting the predicted state and the invariants after every step.
 * Every transition the real actor takes is added to `taken`.
 */
export async function replay(
  path: ModelPath,
  maxInFlight: number,
  taken: Set<AnyTransitionDefinition>,
): Promise<void> {
  const clock = new SimulatedClock();
  const server = createMemoryServer({
    record: true,
    heartbeatMs: 0,
    dedupWindow: 0,
    behaviour: { connect: 'hold', resume: 'hold', send: 'hold' },
  });
  const run: Run = {
    server,
    clock,
    order: new Map(),
    delivered: [],
    dropped: [],
    aborts: new Map(),
    handshakes: new Set(),
    seenOpen: new Set(),
    acked: [],
    conn: createConnection({
      transport: server.transport({ maxInFlight }),
      ...MODEL_OPTIONS,
      clock,
      inspect: (event: InspectionEvent) => {
        if (event.type === '@xstate.microstep') for (const t of event._transitions) taken.add(t);
      },
    }),
  };
  run.conn.on('dropped', (error) => run.dropped.push(error));
  try {
    await settle();
    for (const [index, step] of path.steps.entries()) {
      if ((step.event.type as string) === 'xstate.init') continue;
      const before = stateKey(run.conn.actor.getSnapshot().value);
      await perform(run, step.event);
      const where = describeStep(path, index);
      const actual = stateKey(run.conn.actor.getSnapshot().value);
      const expected = stateKey(step.state.value);
      check(actual === expected, `${where}: expected ${expected}, the real actor is in ${actual}`);
      checkInvariants(run, where, actual.startsWith('open') && !before.startsWith('open'));
    }
    // Whatever was still pending is reported once the connection closes.
    run.conn.close();
    await settle();
    const settled = new Set([...run.delivered, ...run.dropped.map((e) => e.messageId)]);
    for (const id of run.order.keys()) {
      check(settled.has(id), `${describeStep(path, path.steps.length - 1)}: ${id} never settled`);
    }
  } finally {
    run.conn.close();
  }
}

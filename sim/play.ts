/**
 * Play one schedule on a real connection over the memory transport under
 * `SimulatedClock`, checking the spec's invariants (test/support/invariants.ts) after
 * every step and at the end. Throws `SimulationError` naming the broken rule.
 */
import type { InboundFrame, MemoryServer } from '../adapters/memory.js';
import type { StreamPosition } from '../adapters/transport.js';
import { callApp } from '../test/support/app-calls.js';
import { heldConnection } from '../test/support/held.js';
import {
  check,
  checkClosed,
  checkInvariants,
  InvariantError,
  type Tracker,
} from '../test/support/invariants.js';
import { settle } from '../test/support/settle.js';
import { DurableWorld } from '../test/support/sim-store.js';
import type { Outcome, SimConfig, Step } from './schedule.js';
import { TIMING } from './schedule.js';

/** How long a session must be idle, in simulated ms, for an `expire` fault to forget it. */
const EXPIRE_IDLE_MS = 1000;

/** What a broken rule throws: the one error class of the invariants, under its name here. */
export { InvariantError as SimulationError };

/**
 * Run `fn` with every frame the server pushes lost on the wire (the log keeps them): how a
 * gap comes about on a live link.
 */
function lostOnTheWire(server: MemoryServer, fn: () => void): void {
  const links = server.live;
  for (const link of links)
    Object.defineProperty(link, 'push', { value: () => {}, configurable: true, writable: true });
  try {
    fn();
  } finally {
    // The own property shadowed the link's method; removing it restores the method.
    for (const link of links) Reflect.deleteProperty(link, 'push');
  }
}

/** Push `frame` again to the links that resumed its stream, as a server repeating itself. */
function pushAgain(server: MemoryServer, frame: InboundFrame): void {
  for (const link of server.live) if (link.streams.has(frame.stream ?? '')) link.push(frame);
}

export async function play(config: SimConfig, steps: readonly Step[]): Promise<void> {
  const held = {
    maxInFlight: config.maxInFlight,
    dedupWindow: 1_000_000,
    connection: {
      maxQueue: config.maxQueue,
      overflow: config.overflow,
      maxDeliveryAttempts: config.maxDeliveryAttempts,
      maxAttempts: config.maxAttempts,
      onSessionLost: config.onSessionLost,
      connectTimeoutMs: TIMING.connect,
      resumeTimeoutMs: TIMING.resume,
      heartbeatTimeoutMs: TIMING.heartbeat,
      backoff: () => TIMING.backoff,
    },
  };
  // With a store, the process can crash: each start is a new connection (and tracker)
  // on the same store, server and clock.
  const world =
    config.store === 'none' ? undefined : new DurableWorld({ ...held, writes: config.store });
  let tracker: Tracker = world?.tracker ?? heldConnection(held);
  const { server, clock } = tracker;
  if (config.resumeAtOnce) server.behave({ resume: 'ok' });
  const controllers: AbortController[] = [];
  // The verdict the server gave each message: a message it took once is answered the same
  // way every time it comes again (sessions.md §3: a duplicate gets its first verdict),
  // so a resend after a crash cannot turn a refusal into a confirmation.
  const verdicts = new Map<string, 'ok' | 'rejected'>();
  const verdictFor = (id: string, outcome: Outcome): Outcome => {
    if (outcome !== 'ok' && outcome !== 'rejected') return outcome;
    const first = verdicts.get(id);
    if (first !== undefined) return first;
    verdicts.set(id, outcome);
    return outcome;
  };
  // The events of each stream's log in its current epoch, as the server published them.
  const logs = new Map<string, InboundFrame[]>();
  const publish = (stream: string) => {
    const log = logs.get(stream) ?? [];
    logs.set(stream, log);
    log.push(server.publish(stream, `${stream}${log.length + 1}`));
  };
  // Where the app last was on each stream, as an app that keeps its positions would know.
  const kept = new Map<string, StreamPosition>();

  for (const [index, step] of steps.entries()) {
    const where = `step ${index + 1} (${step.do})`;
    const link = server.current;
    const { conn } = tracker;
    switch (step.do) {
      case 'send': {
        const controller = new AbortController();
        controllers.push(controller);
        tracker.send((id) =>
          conn.send(id, {
            id,
            retry: step.retry,
            ...(step.signal ? { signal: controller.signal } : {}),
          }),
        );
        break;
      }
      case 'abort':
        controllers[step.which % Math.max(1, controllers.length)]?.abort();
        break;
      case 'answer-send': {
        // Confirmations may come back in any order, but a server handles a link's
        // messages in the order they came: everything before the answered one first.
        const pending = link?.pendingSends ?? [];
        const k = step.which % Math.max(1, pending.length);
        for (const earlier of pending.slice(0, k)) earlier.handleWithoutReply();
        const answered = pending[k];
        if (answered !== undefined) {
          const outcome = verdictFor(answered.message.id, step.outcome);
          answered.answer(outcome);
          if (outcome === 'ok') tracker.acked(answered.message.id);
        }
        break;
      }
      case 'answer-sends': {
        // In send order, and nothing after a failure: a server that fails a message
        // handles none after it on that link.
        const pending = [...(link?.pendingSends ?? [])];
        for (const [i, outcome] of step.outcomes.entries()) {
          const answered = pending[i];
          if (answered === undefined) break;
          const given = verdictFor(answered.message.id, outcome);
          answered.answer(given);
          if (given === 'ok') tracker.acked(answered.message.id);
          if (given === 'stale' || given === 'retry') break;
        }
        break;
      }
      case 'lose-ack':
        link?.pendingSends[0]?.handleWithoutReply();
        break;
      case 'accept':
        link?.accept();
        break;
      case 'refuse':
        link?.refuse(step.fatal ? { code: 4001, fatal: true } : { reason: 'refused' });
        break;
      case 'answer-resume':
        if (step.ok) link?.pendingResumes[0]?.ok();
        else link?.pendingResumes[0]?.fail();
        break;
      case 'drop':
        link?.drop();
        break;
      case 'silence':
        link?.silence();
        break;
      case 'advance':
        clock.increment(step.ms);
        break;
      case 'suspend':
      case 'resume':
      case 'close':
      case 'unwatch':
        callApp(conn, { ...step, type: step.do });
        break;
      case 'watch': {
        const at = step.from === 'kept' ? kept.get(step.stream) : undefined;
        conn.watch(step.stream, at?.seq ?? 0, at?.epoch);
        break;
      }
      case 'frame': {
        const log = logs.get(step.stream) ?? [];
        if (step.seq === 'next') publish(step.stream);
        else if (step.seq === 'gap') {
          lostOnTheWire(server, () => {
            publish(step.stream);
            publish(step.stream);
          });
          publish(step.stream);
        } else {
          const again = log[step.seq === 'same' ? log.length - 1 : Math.max(0, log.length - 3)];
          if (again !== undefined) pushAgain(server, again);
        }
        break;
      }
      case 'unwatch-in-flight':
        // Pushed now, delivered on later microtasks: the unwatch comes before they land.
        for (let i = 0; i < step.frames; i++) publish(step.stream);
        conn.unwatch(step.stream);
        break;
      case 'forget-sessions':
        // A TTL runs out only on a session left idle: never between the welcome that called
        // it known and its client's resends, which come within the resume and ack timeouts.
        if (step.how === 'expire') server.forgetSessions({ idleForMs: EXPIRE_IDLE_MS });
        else {
          server.restart({ keepState: false });
          logs.clear();
        }
        break;
      case 'start-over':
        server.startOver(step.stream);
        logs.delete(step.stream);
        break;
      case 'ping':
        link?.ping();
        break;
      case 'store-write':
        world?.answerWrite(step.ok);
        break;
      case 'crash':
        if (world) tracker = world.crash(step.land);
        break;
    }
    await settle();
    world?.check(where);
    checkInvariants(tracker, where);
    for (const position of tracker.conn.positions()) kept.set(position.stream, position);
  }

  // From here on the store writes at once, and the last process lives to the end.
  if (world) {
    world.heal();
    await settle();
  }
  const { conn } = tracker;

  // Liveness: once the server behaves, everything not dropped is delivered and the
  // connection is open with an empty outbox — nothing is stuck.
  if (conn.state !== 'closed') {
    server.behave({ connect: 'accept', resume: 'ok', send: 'ok' });
    if (conn.state === 'suspended') conn.resume();
    const outbox = () => conn.actor.getSnapshot().context.outbox;
    const healed = () =>
      conn.state === 'open' && outbox().queue.size + outbox().inFlight.size === 0;
    for (let round = 0; round < 50 && !healed() && (conn.state as string) !== 'closed'; round++) {
      const link = server.current;
      link?.accept();
      for (const pending of [...(link?.pendingResumes ?? [])]) pending.ok();
      for (const pending of [...(link?.pendingSends ?? [])]) pending.answer('ok');
      clock.increment(TIMING.heartbeat);
      await settle();
      if (conn.state === 'suspended') conn.resume();
    }
    const left = outbox().queue.size + outbox().inFlight.size;
    if ((conn.state as string) !== 'closed') {
      check(
        conn.state === 'open' && left === 0,
        'liveness',
        `after healing: ${conn.state} with ${left} message(s) left`,
      );
      for (const id of tracker.order.keys()) {
        check(
          tracker.confirmed.has(id) || tracker.rejected.has(id),
          'liveness',
          `${id} neither delivered nor dropped`,
        );
      }
    }
    world?.check('after healing');
    checkInvariants(tracker, 'after healing');
    // And the streams: a new event on each, then the last one again, as a server repeating
    // itself: the first reaches the app once, the repeat not at all.
    for (const stream of ['a', 'b']) {
      publish(stream);
      const log = logs.get(stream) ?? [];
      const last = log[log.length - 1];
      if (last !== undefined) pushAgain(server, last);
    }
    await settle();
    world?.check('after healing, with events');
    checkInvariants(tracker, 'after healing, with events');
  }

  // R14: close settles everything, once; nothing is left behind.
  conn.close();
  await settle();
  await world?.finish('after close', settle);
  checkClosed(tracker, 'after close');
}

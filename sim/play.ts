/**
 * Play one schedule on a real connection over the memory transport under
 * `SimulatedClock`, checking the spec's invariants (test/support/invariants.ts) after
 * every step and at the end. Throws `SimulationError` naming the broken rule.
 */
import { callApp } from '../test/support/app-calls.js';
import { heldConnection } from '../test/support/held.js';
import { check, checkClosed, checkInvariants, InvariantError } from '../test/support/invariants.js';
import { settle } from '../test/support/settle.js';
import type { SimConfig, Step } from './schedule.js';
import { TIMING } from './schedule.js';

/** What a broken rule throws: the one error class of the invariants, under its name here. */
export { InvariantError as SimulationError };

export async function play(config: SimConfig, steps: readonly Step[]): Promise<void> {
  const tracker = heldConnection({
    maxInFlight: config.maxInFlight,
    dedupWindow: 1_000_000,
    connection: {
      maxQueue: config.maxQueue,
      overflow: config.overflow,
      maxDeliveryAttempts: config.maxDeliveryAttempts,
      maxAttempts: config.maxAttempts,
      connectTimeoutMs: TIMING.connect,
      resumeTimeoutMs: TIMING.resume,
      heartbeatTimeoutMs: TIMING.heartbeat,
      backoff: () => TIMING.backoff,
    },
  });
  const { conn, server, clock } = tracker;
  const controllers: AbortController[] = [];
  const published = new Map<string, number>();

  for (const [index, step] of steps.entries()) {
    const where = `step ${index + 1} (${step.do})`;
    const link = server.current;
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
        answered?.answer(step.outcome);
        if (answered && step.outcome === 'ok') tracker.acked(answered.message.id);
        break;
      }
      case 'answer-sends': {
        // In send order, and nothing after a failure: a server that fails a message
        // handles none after it on that link.
        const pending = [...(link?.pendingSends ?? [])];
        for (const [i, outcome] of step.outcomes.entries()) {
          const answered = pending[i];
          if (answered === undefined) break;
          answered.answer(outcome);
          if (outcome === 'ok') tracker.acked(answered.message.id);
          if (outcome === 'stale' || outcome === 'retry') break;
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
      case 'watch':
      case 'unwatch':
        callApp(conn, { ...step, type: step.do });
        break;
      case 'frame': {
        const top = published.get(step.stream) ?? 0;
        const seq = { next: top + 1, same: top, old: Math.max(0, top - 2), gap: top + 3 }[step.seq];
        published.set(step.stream, Math.max(top, seq));
        link?.push({ stream: step.stream, seq, data: seq });
        break;
      }
      case 'ping':
        link?.ping();
        break;
    }
    await settle();
    checkInvariants(tracker, where);
  }

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
    checkInvariants(tracker, 'after healing');
  }

  // R14: close settles everything, once; nothing is left behind.
  conn.close();
  await settle();
  checkClosed(tracker, 'after close');
}

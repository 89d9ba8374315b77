/**
 * Play one schedule on a real connection over the memory transport under
 * `SimulatedClock`, checking the spec's invariants after every step and at the end.
 * Throws `SimulationError` naming the broken rule.
 */
import { SimulatedClock } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import type { DeliveryError } from '../machines/errors.js';
import { toArray } from '../machines/queue.js';
import { createConnection } from '../src/connection.js';
import type { SimConfig, Step } from './schedule.js';
import { TIMING } from './schedule.js';

export class SimulationError extends Error {
  override name = 'SimulationError';
}

function check(condition: boolean, rule: string, detail: string): asserts condition {
  if (!condition) throw new SimulationError(`${rule}: ${detail}`);
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function play(config: SimConfig, steps: readonly Step[]): Promise<void> {
  const clock = new SimulatedClock();
  const server = createMemoryServer({
    record: true,
    heartbeatMs: 0,
    dedupWindow: 1_000_000,
    behaviour: { connect: 'hold', resume: 'hold', send: 'hold' },
  });
  const conn = createConnection({
    transport: server.transport({ maxInFlight: config.maxInFlight }),
    clock,
    maxQueue: config.maxQueue,
    overflow: config.overflow,
    maxDeliveryAttempts: config.maxDeliveryAttempts,
    maxAttempts: config.maxAttempts,
    connectTimeoutMs: TIMING.connect,
    resumeTimeoutMs: TIMING.resume,
    heartbeatTimeoutMs: TIMING.heartbeat,
    backoff: () => TIMING.backoff,
  });

  const order = new Map<string, number>();
  const settledCount = new Map<string, number>();
  const confirmed = new Set<string>();
  const rejected = new Set<string>();
  /** Sent after the connection closed: rejected at once, with no listener left to tell. */
  const afterClose = new Set<string>();
  const dropped: DeliveryError[] = [];
  const controllers: AbortController[] = [];
  const published = new Map<string, number>();
  const lastPositions = new Map<string, number>();
  conn.on('dropped', (error) => dropped.push(error));
  let enteredOpen = false;
  conn.on('state', (to) => {
    if (to === 'open') enteredOpen = true;
  });
  const handshakes = new Set<object>();
  const seenOpen = new Set<object>();

  const invariants = (where: string) => {
    const snapshot = conn.actor.getSnapshot();
    const outbox = [
      ...toArray(snapshot.context.outbox.inFlight),
      ...toArray(snapshot.context.outbox.queue),
    ];
    // R1: the server's first receipts follow send order.
    const firsts = server.received.map((m) => order.get(m.id) ?? -1);
    check(
      firsts.every((n, i) => i === 0 || n > (firsts[i - 1] as number)),
      'R1 order',
      `${where}: the server got ${server.received.map((m) => m.id).join(',')}`,
    );
    // R7: every id on the wire is one the app sent.
    for (const link of server.links) {
      for (const record of link.log) {
        if (record.kind === 'send')
          check(
            order.has(record.message.id),
            'R7 same id',
            `${where}: unknown id ${record.message.id}`,
          );
      }
    }
    // Nothing confirmed that the server does not have.
    const atServer = new Set(server.received.map((m) => m.id));
    for (const id of confirmed)
      check(atServer.has(id), 'R1 confirmed', `${where}: ${id} confirmed but not at the server`);
    // R10: the bound.
    check(
      outbox.length <= config.maxQueue,
      'R10 bound',
      `${where}: ${outbox.length} > ${config.maxQueue}`,
    );
    // R2: a link that opened with streams watched sends nothing before its resume succeeded.
    const link = server.current;
    if (link?.state === 'open' && !seenOpen.has(link)) {
      seenOpen.add(link);
      if (snapshot.context.positions.size > 0) handshakes.add(link);
    }
    for (const l of server.links) {
      if (!handshakes.has(l)) continue;
      const [first] = l.log;
      const sends = l.log.some((r) => r.kind === 'send');
      check(
        !sends || (first?.kind === 'resume' && first.answer === 'ok'),
        'R2 resume before flush',
        `${where}: link ${l.id}`,
      );
    }
    // R4: open only with an empty outbox.
    if (enteredOpen)
      check(outbox.length === 0, 'R4 flush before open', `${where}: ${outbox.length} left`);
    enteredOpen = false;
    // R5: one live link.
    check(server.live.length <= 1, 'R5 one link', `${where}: ${server.live.length} live`);
    // R18: positions never go back.
    for (const { stream, seq } of conn.positions()) {
      check(
        seq >= (lastPositions.get(stream) ?? 0),
        'R18 positions',
        `${where}: ${stream} went back to ${seq}`,
      );
      lastPositions.set(stream, seq);
    }
  };

  const acked: string[] = [];
  for (const [index, step] of steps.entries()) {
    const where = `step ${index + 1} (${step.do})`;
    const link = server.current;
    switch (step.do) {
      case 'send': {
        const id = `s${order.size + 1}`;
        order.set(id, order.size);
        if (conn.state === 'closed') afterClose.add(id);
        const controller = new AbortController();
        controllers.push(controller);
        const count = () => settledCount.set(id, (settledCount.get(id) ?? 0) + 1);
        conn
          .send(id, {
            id,
            retry: step.retry,
            ...(step.signal ? { signal: controller.signal } : {}),
          })
          .then(
            () => {
              confirmed.add(id);
              count();
            },
            () => {
              rejected.add(id);
              count();
            },
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
        if (answered && step.outcome === 'ok') acked.push(answered.message.id);
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
          if (outcome === 'ok') acked.push(answered.message.id);
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
        conn.suspend();
        break;
      case 'resume':
        conn.resume();
        break;
      case 'close':
        conn.close();
        break;
      case 'watch':
        conn.watch(step.stream);
        break;
      case 'unwatch':
        conn.unwatch(step.stream);
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
    invariants(where);
    // A send the server confirmed on a live link resolves on that confirmation, every one
    // of a batch, not on some later resend.
    for (const id of acked.splice(0)) {
      check(
        confirmed.has(id),
        'send resolves on its ack',
        `${where}: ${id} was acked, not resolved`,
      );
    }
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
      for (const id of order.keys()) {
        check(
          confirmed.has(id) || rejected.has(id),
          'liveness',
          `${id} neither delivered nor dropped`,
        );
      }
    }
    invariants('after healing');
  }

  // R14: close settles everything, once; nothing is left behind.
  conn.close();
  await settle();
  invariants('after close');
  for (const id of order.keys()) {
    check(
      settledCount.get(id) === 1,
      'R14 every promise settled once',
      `${id} settled ${settledCount.get(id) ?? 0} times`,
    );
  }
  const reported = new Set(dropped.map((e) => e.messageId));
  for (const id of order.keys()) {
    check(confirmed.has(id) !== rejected.has(id), 'R14 confirmed xor rejected', id);
    if (rejected.has(id) && !afterClose.has(id)) {
      check(reported.has(id), 'dropped fires for every rejection', id);
    }
  }
  const timers = (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;
  check(timers === 0, 'R14 no timer after close', `${timers} left`);
  check(
    Object.keys(conn.actor.getSnapshot().children).length === 0,
    'R14 no child after close',
    'a link actor is left',
  );
  check(server.live.length === 0, 'R14 no link after close', `${server.live.length} live`);
}

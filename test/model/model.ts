/**
 * The model: which events can happen in each abstract state of the connection machine,
 * and the graph of every path through them, generated with `xstate/graph`.
 *
 * The graph runs on the machine's pure `transition()`; `runner.ts` replays each path on
 * a real actor over the memory transport. Context makes the real state space infinite,
 * so a vertex is the state value plus an abstraction of context: each outbox entry as
 * (retry flag, attempts), whether the stream is watched, the failure count and a bucket
 * of the backoff attempt.
 */
import type { AnyActorScope, SnapshotFrom } from 'xstate';
import type { StatePath } from 'xstate/graph';
import { getShortestPaths } from 'xstate/graph';
import { connectionMachine } from '../../machines/connection.machine.js';
import type { ConnectionInput } from '../../machines/options.js';
import { toArray } from '../../machines/queue.js';
import type { MachineEvent } from '../../machines/types.js';

export type Snapshot = SnapshotFrom<typeof connectionMachine>;

/**
 * A step of the model: a machine event, or `watch-refused` — the app watches a stream on
 * a greeted link and the server fails that resume — which is two machine events in a row,
 * because whether such a resume is pending is not part of the machine's state.
 */
export type ModelEvent = MachineEvent | { type: 'watch-refused' };

export const STREAM = 'a';

export const MODEL_TIMING = {
  connectTimeoutMs: 1000,
  resumeTimeoutMs: 2000,
  heartbeatTimeoutMs: 3000,
  backoffMs: 100,
} as const;

let nextModelId = 0;

/** Small bounds keep the abstract graph small while every limit is still reached. */
export const MODEL_OPTIONS = {
  maxQueue: 2,
  maxAttempts: 2,
  maxDeliveryAttempts: 2,
  connectTimeoutMs: MODEL_TIMING.connectTimeoutMs,
  resumeTimeoutMs: MODEL_TIMING.resumeTimeoutMs,
  heartbeatTimeoutMs: MODEL_TIMING.heartbeatTimeoutMs,
  backoff: () => MODEL_TIMING.backoffMs,
  createId: () => `model-${++nextModelId}`,
  // The model fires `ack.timeout` itself (the runner sends it, as the timer would); the
  // real timer must never fire on its own while simulated time adds up along a path.
  ackTimeoutMs: 2 ** 31 - 1,
} satisfies Partial<ConnectionInput>;

/** The leaf state as a path, e.g. `reconnecting.waiting`. */
export function stateKey(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? [];
  return `${key}.${stateKey(child)}`;
}

export function serialize(snapshot: Snapshot): string {
  const { context } = snapshot;
  const entry = (e: { retry: boolean; attempts: number }) => `${e.retry ? 'r' : 'n'}${e.attempts}`;
  return [
    stateKey(snapshot.value),
    `q:${toArray(context.outbox.queue).map(entry).join(',')}`,
    `f:${toArray(context.outbox.inFlight).map(entry).join(',')}`,
    `w:${context.positions.has(STREAM) ? 1 : 0}`,
    `x:${context.linkAttempts}`,
    `b:${Math.min(context.backoffAttempt, 2)}`,
    `a:${context.authRefused ? 1 : 0}`,
  ].join(' ');
}

export function isUsable(key: string): boolean {
  return key.startsWith('flushing') || key.startsWith('open');
}

export function hasLink(key: string): boolean {
  return key.endsWith('opening') || key.endsWith('resuming') || isUsable(key);
}

/** Every event that can happen in this state, as the memory transport can produce it. */
export function modelEvents(snapshot: Snapshot): ModelEvent[] {
  if (snapshot.status !== 'active') return [];
  const key = stateKey(snapshot.value);
  const { context } = snapshot;
  const watched = context.positions.has(STREAM);
  const events: ModelEvent[] = [
    { type: 'send', data: 'd', retry: true },
    { type: 'send', data: 'd', retry: false },
    { type: 'suspend' },
    { type: 'resume' },
    { type: 'close' },
    watched ? { type: 'unwatch', stream: STREAM } : { type: 'watch', stream: STREAM, seq: 0 },
  ];
  const withdrawable = toArray(context.outbox.queue).find((e) => e.attempts === 0);
  if (withdrawable) events.push({ type: 'abort', id: withdrawable.id });
  if (hasLink(key)) {
    events.push({ type: 'link.closed', info: { reason: 'dropped' } });
    events.push({ type: 'link.closed', info: { code: 4001, fatal: true } });
    events.push({ type: 'link.closed', info: { code: 4003, auth: true } });
  }
  if (key.endsWith('opening')) {
    events.push({ type: 'link.open', heartbeatMs: 0 });
    events.push({ type: `xstate.after.connectTimeout.holdfast.${key}` } as unknown as ModelEvent);
  }
  if (key.endsWith('resuming')) {
    events.push({ type: 'link.resumed' });
    events.push({ type: 'link.resume-failed', error: new Error('refused') });
    events.push({ type: `xstate.after.resumeTimeout.holdfast.${key}` } as unknown as ModelEvent);
  }
  if (key === 'reconnecting.waiting') {
    events.push({
      type: 'xstate.after.backoff.holdfast.reconnecting.waiting',
    } as unknown as ModelEvent);
  }
  if (key.endsWith('resuming') || isUsable(key)) {
    // Replayed frames arrive while resuming; live ones once usable.
    const seen = context.positions.get(STREAM);
    const frame = seen === undefined ? { data: 'f' } : { stream: STREAM, seq: seen + 1, data: 'f' };
    events.push({ type: 'link.frame', frame });
    // A stream watched on a greeted link is resumed at once; the server may refuse it.
    if (!watched) events.push({ type: 'watch-refused' });
    // A v2 server names a stream's epoch and head before its replay.
    events.push({ type: 'link.stream', head: { stream: STREAM, epoch: 'epoch-1', head: 0 } });
  }
  if (isUsable(key)) {
    events.push({ type: 'link.alive' });
    events.push({ type: `xstate.after.heartbeatTimeout.holdfast.${key}` } as unknown as ModelEvent);
    const [head, second] = toArray(context.outbox.inFlight);
    if (head) events.push({ type: 'ack.timeout' });
    if (head) {
      for (const status of ['ok', 'stale', 'retry', 'rejected'] as const) {
        events.push({ type: 'link.verdicts', verdicts: [{ id: head.id, outcome: { status } }] });
      }
    }
    // Two verdicts in one tick arrive as one event: each is applied in order, and a verdict
    // that ends the link leaves the rest in flight.
    if (head && second) {
      for (const [a, b] of [
        ['ok', 'ok'],
        ['rejected', 'ok'],
        ['ok', 'retry'],
      ] as const) {
        events.push({
          type: 'link.verdicts',
          verdicts: [
            { id: head.id, outcome: { status: a } },
            { id: second.id, outcome: { status: b } },
          ],
        });
      }
    }
  }
  return events;
}

/** An event's name with what distinguishes its variants (outcome, fatal, retry). */
export function eventKey(event: ModelEvent): string {
  if (event.type === 'link.verdicts')
    return `${event.type}:${event.verdicts.map((v) => v.outcome.status).join(',')}`;
  if (event.type === 'link.closed')
    return `${event.type}:${event.info.fatal ? 'fatal' : event.info.auth ? 'auth' : 'lost'}`;
  if (event.type === 'send' && 'data' in event)
    return `${event.type}:${event.retry === false ? 'once' : 'retry'}`;
  return event.type;
}

/** The machine as graph logic, with `watch-refused` expanded into its two events. */
export const modelLogic = {
  getInitialSnapshot: (scope: AnyActorScope, input: unknown) =>
    connectionMachine.getInitialSnapshot(scope, input as never),
  transition(snapshot: Snapshot, event: ModelEvent, scope: AnyActorScope): Snapshot {
    if (event.type !== 'watch-refused') return connectionMachine.transition(snapshot, event, scope);
    const watching = connectionMachine.transition(
      snapshot,
      { type: 'watch', stream: STREAM, seq: 0 },
      scope,
    );
    return connectionMachine.transition(
      watching,
      { type: 'link.watch-failed', error: new Error('refused') },
      scope,
    );
  },
};

export type ModelPath = StatePath<Snapshot, ModelEvent>;

/**
 * One shortest path per edge of the abstract graph: vertices are keyed on (previous
 * state, event, state), so every transition between abstract states gets a path of its
 * own, and with it every state.
 */
export function modelPaths(input: ConnectionInput): ModelPath[] {
  return getShortestPaths(modelLogic as never, {
    input: input as never,
    events: modelEvents as never,
    serializeState: ((state: Snapshot, event: ModelEvent | undefined, prev: Snapshot | undefined) =>
      `${prev ? serialize(prev) : '∅'} | ${event ? eventKey(event) : 'init'} | ${serialize(state)}`) as never,
    stopWhen: ((state: Snapshot) => state.status === 'done') as never,
  }) as unknown as ModelPath[];
}

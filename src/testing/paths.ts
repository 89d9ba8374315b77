/**
 * Paths generated from the machine itself with `xstate/graph`, like our own model tests
 * (test/model/): `getShortestPaths` explores `connectionMachine` through its pure
 * `transition()`. The model tests step the machine event by event on a simulated clock;
 * here the wire is real and decides its own timing, so a step is one thing the kit can
 * do — an app call, or a server fault through a hook — and the machine is then run on
 * through what a healthy wire answers (open, resumed, acked) until it rests: open,
 * suspended or closed. A vertex is that resting state, whether the stream is watched and
 * whether sends wait in the outbox, keyed on the edge that reached it, so there is one
 * path per (state, step) pair: every step from every resting state.
 */
import type { AnyActorScope, SnapshotFrom } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import type { Link, Transport } from '../../adapters/transport.js';
import { connectionMachine } from '../../machines/connection.machine.js';
import { outboxSize } from '../../machines/outbox.js';
import { toArray } from '../../machines/queue.js';
import type { MachineEvent } from '../../machines/types.js';
import { stateKey } from './probe.js';
import type { OptionalHook, ServerHooks } from './types.js';

type Snapshot = SnapshotFrom<typeof connectionMachine>;

/** What the kit can do between two resting states. */
export type PathStep =
  | 'send'
  | 'watch'
  | 'suspend'
  | 'resume'
  | 'close'
  | 'drop'
  | 'restart'
  | 'lose-ack'
  | 'stale'
  | 'fail-send';

/** The hook a fault step is made with (`drop` uses the required `dropLinks`). */
export const STEP_HOOKS: Partial<Record<PathStep, OptionalHook>> = {
  restart: 'restart',
  'lose-ack': 'loseNextAck',
  stale: 'staleLinks',
  'fail-send': 'failNextSends',
};

export interface KitPath {
  readonly steps: readonly PathStep[];
  /** The resting state after each step: `open`, `suspended` or `closed`. */
  readonly expected: readonly string[];
}

const STREAM = 's';
const idle: Link = { resume: async () => {}, send: async () => ({ status: 'ok' }), close() {} };
/** The graph never opens a link: the pure transition spawns, but never starts, the link actor. */
const inert: Transport = { connect: () => idle };

const top = (s: Snapshot) => stateKey(s.value).split('.')[0] as string;

/** What a healthy wire does next in this state, until the machine rests. */
function wireAnswer(snapshot: Snapshot): MachineEvent | undefined {
  const key = stateKey(snapshot.value);
  if (key.endsWith('opening')) return { type: 'link.open', heartbeatMs: 0 } as MachineEvent;
  if (key.endsWith('resuming')) return { type: 'link.resumed' };
  if (key === 'reconnecting.waiting')
    return { type: 'xstate.after.backoff.holdfast.reconnecting.waiting' } as never;
  const inFlight = toArray(snapshot.context.outbox.inFlight);
  if ((key.startsWith('open') || key.startsWith('flushing')) && inFlight.length > 0)
    return {
      type: 'link.verdicts',
      verdicts: inFlight.map((e) => ({ id: e.id, outcome: { status: 'ok' as const } })),
    };
  return undefined;
}

function rest(snapshot: Snapshot, scope: AnyActorScope): Snapshot {
  let s = snapshot;
  for (let i = 0; i < 100; i++) {
    const event = wireAnswer(s);
    if (event === undefined) return s;
    s = connectionMachine.transition(s, event, scope);
  }
  throw new Error(`holdfast/testing: the machine did not come to rest (${stateKey(s.value)})`);
}

const send: MachineEvent = { type: 'send', data: 'kit' };
const lost: MachineEvent = { type: 'link.closed', info: { reason: 'kit fault' } };

/** Each step as the machine events a healthy wire turns it into, before it rests. */
function machineEvents(step: PathStep): MachineEvent[] {
  switch (step) {
    case 'send':
      return [send];
    case 'watch':
      return [{ type: 'watch', stream: STREAM, seq: 0 }];
    case 'suspend':
    case 'resume':
    case 'close':
      return [{ type: step }];
    case 'drop':
    case 'restart':
      return [lost];
    // A message on the wire, then its link fails (lost ack, stale, retry): resent after.
    default:
      return [send, lost];
  }
}

type StepEvent = { type: PathStep };

/** Every step the kit can take from this resting state with the hooks it has. */
function stepsFrom(snapshot: Snapshot, hooks: ServerHooks): StepEvent[] {
  if (snapshot.status !== 'active') return [];
  const state = top(snapshot);
  const steps: PathStep[] = ['send', 'resume', 'close'];
  if (!snapshot.context.positions.has(STREAM)) steps.push('watch');
  if (state !== 'suspended') steps.push('suspend');
  if (state === 'open') {
    steps.push('drop');
    for (const [step, hook] of Object.entries(STEP_HOOKS))
      if (hooks[hook as OptionalHook] !== undefined) steps.push(step as PathStep);
  }
  return steps.map((type) => ({ type }));
}

const vertex = (s: Snapshot) =>
  `${top(s)} w:${s.context.positions.has(STREAM) ? 1 : 0} q:${outboxSize(s.context.outbox) > 0 ? 1 : 0}`;

/**
 * One path per (resting state, step), prefixes of longer paths left out. `maxInFlight`
 * changes none of them (tested): a resting state has nothing in flight, whatever the window.
 */
export function kitPaths(hooks: ServerHooks, maxInFlight?: number): KitPath[] {
  const logic = {
    getInitialSnapshot: (scope: AnyActorScope) =>
      rest(
        connectionMachine.getInitialSnapshot(scope, {
          transport: { ...inert, ...(maxInFlight === undefined ? {} : { maxInFlight }) },
          backoff: () => 0,
        }),
        scope,
      ),
    transition: (snapshot: Snapshot, event: StepEvent, scope: AnyActorScope) =>
      rest(
        machineEvents(event.type).reduce(
          (s, e) => connectionMachine.transition(s, e, scope),
          snapshot,
        ),
        scope,
      ),
  };
  const paths = getShortestPaths(logic as never, {
    events: ((s: Snapshot) => stepsFrom(s, hooks)) as never,
    serializeState: ((s: Snapshot, e: StepEvent | undefined, prev: Snapshot | undefined) =>
      `${prev ? vertex(prev) : '∅'} | ${e?.type ?? 'init'} | ${vertex(s)}`) as never,
    stopWhen: ((s: Snapshot) => s.status === 'done') as never,
  }) as unknown as Array<{ steps: Array<{ event: { type: string }; state: Snapshot }> }>;
  const all = paths
    .map((p) => p.steps.filter((s) => s.event.type !== 'xstate.init'))
    .filter((steps) => steps.length > 0)
    .map((steps) => ({
      steps: steps.map((s) => s.event.type as PathStep),
      expected: steps.map((s) => top(s.state)),
    }));
  const keys = all.map((p) => p.steps.join(' '));
  return all.filter(
    (_, i) =>
      keys.indexOf(keys[i] as string) === i &&
      !keys.some((other) => other.startsWith(`${keys[i]} `)),
  );
}

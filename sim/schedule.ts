/**
 * Random schedules for the deterministic simulation: a run's configuration and the steps
 * the app, the server and the clock take, as fast-check arbitraries (so failures shrink
 * to a short, readable schedule).
 */
import fc from 'fast-check';

export interface SimConfig {
  maxQueue: number;
  overflow: 'reject' | 'drop-oldest';
  maxInFlight: number;
  maxDeliveryAttempts: number;
  maxAttempts: number;
  /** What the connection does with messages a server forgot it may have handled (R22). */
  onSessionLost: 'resend' | 'reject';
  /** The server answers every resume at once (else it holds them for `answer-resume`). */
  resumeAtOnce: boolean;
  /**
   * A durable store (durable.md) whose writes complete at once or wait for `store-write`,
   * and whose process can crash between any two writes; `none`: the outbox in memory.
   */
  store: 'none' | 'at-once' | 'held';
}

export type Outcome = 'ok' | 'stale' | 'retry' | 'rejected';

export type Step =
  | { do: 'send'; retry: boolean; signal: boolean }
  | { do: 'abort'; which: number }
  | { do: 'answer-send'; outcome: Outcome; which: number }
  /** Answer the first sends in flight in one tick, so their verdicts arrive together. */
  | { do: 'answer-sends'; outcomes: Outcome[] }
  | { do: 'lose-ack' }
  | { do: 'accept' }
  | { do: 'refuse'; fatal: boolean }
  | { do: 'answer-resume'; ok: boolean }
  | { do: 'drop' }
  | { do: 'silence' }
  | { do: 'advance'; ms: number }
  | { do: 'suspend' }
  | { do: 'resume' }
  | { do: 'close' }
  /** Watch from seq 0, or from where the app last was on the stream (seq and epoch). */
  | { do: 'watch'; stream: 'a' | 'b'; from: 'zero' | 'kept' }
  | { do: 'unwatch'; stream: 'a' | 'b' }
  /**
   * The server publishes the stream's next event (`next`), sends one again (`same`: the
   * last, `old`: two before it) or loses two on the wire before the third (`gap`).
   */
  | { do: 'frame'; stream: 'a' | 'b'; seq: 'next' | 'same' | 'old' | 'gap' }
  /** The server publishes `frames` events, and the app unwatches while they are in flight. */
  | { do: 'unwatch-in-flight'; stream: 'a' | 'b'; frames: number }
  /**
   * The server forgets every session: as if each expired (`expire`, links stay open), or
   * in a crash (`crash`: `restart({ keepState: false })`, every log starts over too).
   */
  | { do: 'forget-sessions'; how: 'expire' | 'crash' }
  /** A stream's log starts over: a new epoch, seqs from 1; links watching it are dropped. */
  | { do: 'start-over'; stream: 'a' | 'b' }
  | { do: 'ping' }
  /** The store answers the write on its way: saved, or failed (a full disk). */
  | { do: 'store-write'; ok: boolean }
  /**
   * The process dies without `close()`: a write in flight lands (`land`) or is lost, and a
   * new connection starts on the store, against the same server.
   */
  | { do: 'crash'; land: boolean };

export const TIMING = { connect: 100, resume: 150, heartbeat: 200, backoff: 20 } as const;

/** Which schedules have a store: some (`mixed`), all or none. */
export type StoreChoice = 'mixed' | 'always' | 'never';

const storeKinds: Record<StoreChoice, SimConfig['store'][]> = {
  mixed: ['none', 'none', 'at-once', 'held'],
  always: ['at-once', 'held'],
  never: ['none'],
};

export function configArbitrary(stores: StoreChoice = 'mixed'): fc.Arbitrary<SimConfig> {
  return fc.record({
    maxQueue: fc.integer({ min: 1, max: 6 }),
    overflow: fc.constantFrom('reject' as const, 'drop-oldest' as const),
    maxInFlight: fc.integer({ min: 1, max: 3 }),
    maxDeliveryAttempts: fc.integer({ min: 1, max: 4 }),
    maxAttempts: fc.constantFrom(2, 4, Number.POSITIVE_INFINITY),
    onSessionLost: fc.constantFrom('resend' as const, 'reject' as const),
    resumeAtOnce: fc.boolean(),
    store: fc.constantFrom(...storeKinds[stores]),
  });
}

const stream = fc.constantFrom('a' as const, 'b' as const);

const forgetSessions: fc.WeightedArbitrary<Step> = {
  weight: 1,
  arbitrary: fc.record({
    do: fc.constant('forget-sessions' as const),
    how: fc.constantFrom('expire' as const, 'crash' as const),
  }),
};

const steps: fc.WeightedArbitrary<Step>[] = [
  {
    weight: 6,
    arbitrary: fc.record({
      do: fc.constant('send' as const),
      retry: fc.boolean(),
      signal: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('abort' as const), which: fc.nat(8) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      do: fc.constant('answer-send' as const),
      outcome: fc.constantFrom(
        'ok' as const,
        'ok' as const,
        'ok' as const,
        'stale' as const,
        'retry' as const,
        'rejected' as const,
      ),
      which: fc.nat(2),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      do: fc.constant('answer-sends' as const),
      outcomes: fc.array(fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'stale', 'retry', 'rejected'), {
        minLength: 2,
        maxLength: 3,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ do: 'lose-ack' as const }) },
  { weight: 4, arbitrary: fc.constant({ do: 'accept' as const }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('refuse' as const), fatal: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({ do: fc.constant('answer-resume' as const), ok: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.constant({ do: 'drop' as const }) },
  { weight: 1, arbitrary: fc.constant({ do: 'silence' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      do: fc.constant('advance' as const),
      ms: fc.constantFrom(1, TIMING.backoff, TIMING.connect, TIMING.resume, TIMING.heartbeat),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ do: 'suspend' as const }) },
  { weight: 1, arbitrary: fc.constant({ do: 'resume' as const }) },
  { weight: 1, arbitrary: fc.constant({ do: 'close' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      do: fc.constant('watch' as const),
      stream,
      from: fc.constantFrom('zero' as const, 'kept' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('unwatch' as const), stream }) },
  {
    weight: 5,
    arbitrary: fc.record({
      do: fc.constant('frame' as const),
      stream,
      seq: fc.constantFrom('next' as const, 'same' as const, 'old' as const, 'gap' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      do: fc.constant('unwatch-in-flight' as const),
      stream,
      frames: fc.integer({ min: 1, max: 3 }),
    }),
  },
  forgetSessions,
  { weight: 1, arbitrary: fc.record({ do: fc.constant('start-over' as const), stream }) },
  { weight: 1, arbitrary: fc.constant({ do: 'ping' as const }) },
];

/** The steps of a schedule without a store. */
export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(...steps);

/**
 * The steps of a schedule with a store: its writes answered and its process crashed as
 * well, and no server that forgets sessions (a server that remembers them is what makes
 * a restart exactly-once, D4).
 */
export const storeStepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  ...steps.filter((step) => step !== forgetSessions),
  {
    weight: 6,
    arbitrary: fc.record({
      do: fc.constant('store-write' as const),
      ok: fc.constantFrom(true, true, true, true, false),
    }),
  },
  { weight: 3, arbitrary: fc.record({ do: fc.constant('crash' as const), land: fc.boolean() }) },
);

/** A configuration and its steps. */
export function scheduleArbitrary(stores: StoreChoice = 'mixed') {
  return configArbitrary(stores).chain((config) =>
    fc.tuple(
      fc.constant(config),
      fc.array(config.store === 'none' ? stepArbitrary : storeStepArbitrary, {
        minLength: 1,
        maxLength: 40,
        size: 'medium',
      }),
    ),
  );
}

/** One line per step, for a failure report a person can read and replay. */
export function describeSchedule(config: SimConfig, steps: readonly Step[]): string {
  const lines = [`config ${JSON.stringify(config)}`];
  for (const [i, step] of steps.entries()) {
    const { do: what, ...rest } = step;
    const args = Object.entries(rest)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    lines.push(`${String(i + 1).padStart(3)}. ${what}${args ? ` ${args}` : ''}`);
  }
  return lines.join('\n');
}

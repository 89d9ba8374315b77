import type { InspectionEvent, Observer } from 'xstate';
import type { Transport } from '../adapters/transport.js';
import { type Backoff, defaultBackoff } from './backoff.js';

/** The timer API the machine schedules with; XState's `SimulatedClock` is one. */
export interface ClockLike {
  setTimeout(fn: () => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
}

/** What to do with a send when the outbox is full. */
export type Overflow = 'reject' | 'drop-oldest';

/**
 * Everything `createConnection` (and `connectionMachine`'s input) accepts. This is the
 * one place that holds every default.
 */
export interface ConnectionOptions {
  /** The transport that opens links (spec §5). Required. */
  transport: Transport;
  /**
   * How many messages may be queued and in flight at once.
   * @default 1000
   */
  maxQueue?: number;
  /**
   * When the outbox is full: `'reject'` the new send, or `'drop-oldest'` queued message
   * (never one in flight; with nothing queued the new send is rejected).
   * @default 'reject'
   */
  overflow?: Overflow;
  /**
   * How long to wait before reconnect attempt `attempt` (from 1), in ms.
   * @default full-jitter exponential, base 500 ms, cap 30 s
   */
  backoff?: Backoff;
  /**
   * Consecutive failed link attempts (never usable) before the connection closes with
   * `retries-exhausted`. An integer ≥ 1 or `Infinity`.
   * @default Infinity
   */
  maxAttempts?: number;
  /**
   * Sends of one message before it is dropped with `attempts-exhausted`.
   * @default 5
   */
  maxDeliveryAttempts?: number;
  /**
   * A link that has not opened by then is abandoned, in ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * A resume handshake that has not finished by then fails, in ms.
   * @default 15000
   */
  resumeTimeoutMs?: number;
  /**
   * Silence on an open link longer than this means it is dead, in ms. 0 disables.
   * @default 45000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Makes message ids for sends that do not bring their own.
   * @default crypto.randomUUID
   */
  createId?: () => string;
  /**
   * The clock every timer is scheduled on (`SimulatedClock` in tests). Only used by
   * `createConnection`; with `connectionMachine`, pass it to `createActor`.
   * @default real timers; a 0 ms wait runs on the next turn of the event loop
   */
  clock?: ClockLike;
  /**
   * Passed to `createActor` (e.g. the Stately inspector). Only used by `createConnection`.
   * @default none
   */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

/** The options with every default filled in and every value checked. */
export interface ResolvedOptions {
  readonly transport: Transport;
  readonly maxQueue: number;
  readonly overflow: Overflow;
  readonly backoff: Backoff;
  readonly maxAttempts: number;
  readonly maxDeliveryAttempts: number;
  readonly connectTimeoutMs: number;
  readonly resumeTimeoutMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly createId: () => string;
  /** From `transport.maxInFlight`. */
  readonly maxInFlight: number;
}

export const defaults = {
  maxQueue: 1000,
  overflow: 'reject',
  backoff: defaultBackoff,
  maxAttempts: Number.POSITIVE_INFINITY,
  maxDeliveryAttempts: 5,
  connectTimeoutMs: 10_000,
  resumeTimeoutMs: 15_000,
  heartbeatTimeoutMs: 45_000,
  maxInFlight: 1,
} as const satisfies Partial<ResolvedOptions>;

/** setTimeout fires anything above this after 1 ms, so no timeout may exceed it. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function count(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw new TypeError(
    `holdfast: ${name} must be an integer ≥ 1 or Infinity, got ${describe(value)}`,
  );
}

function timeout(name: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const min = allowZero ? 0 : 1;
  if (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= min &&
    value <= MAX_TIMEOUT_MS
  ) {
    return value;
  }
  const range = `an integer from ${min} to ${MAX_TIMEOUT_MS} ms${allowZero ? ' (0 disables)' : ''}`;
  throw new TypeError(`holdfast: ${name} must be ${range}, got ${describe(value)}`);
}

function randomId(): string {
  const id = globalThis.crypto.randomUUID();
  // V8 builds the UUID as a rope of ~20 pieces (488 bytes while it lives, measured);
  // reading a character flattens it in place to one 36-byte string (68 bytes). A queued
  // message lives long enough for that to be most of its weight and its GC cost.
  id.charCodeAt(0);
  return id;
}

/**
 * Check every option and fill in the defaults. Throws a `TypeError` that names the
 * option and the values it accepts.
 */
export function resolveOptions(options: ConnectionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      `holdfast: options must be an object with a transport, got ${describe(options)}`,
    );
  }
  const { transport } = options;
  if (
    typeof transport !== 'object' ||
    transport === null ||
    typeof (transport as Partial<Transport>).connect !== 'function'
  ) {
    throw new TypeError(
      `holdfast: transport is required and must be a Transport (an object with connect(events)), got ${describe(transport)}`,
    );
  }
  const overflow = options.overflow ?? defaults.overflow;
  if (overflow !== 'reject' && overflow !== 'drop-oldest') {
    throw new TypeError(
      `holdfast: overflow must be 'reject' or 'drop-oldest', got ${describe(overflow)}`,
    );
  }
  for (const name of ['backoff', 'createId'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'function') {
      throw new TypeError(`holdfast: ${name} must be a function, got ${describe(value)}`);
    }
  }
  if (globalThis.crypto?.randomUUID === undefined && options.createId === undefined) {
    throw new TypeError('holdfast: createId is required where crypto.randomUUID is missing');
  }
  return {
    transport,
    maxQueue: count('maxQueue', options.maxQueue, defaults.maxQueue),
    overflow,
    backoff: options.backoff ?? defaults.backoff,
    maxAttempts: count('maxAttempts', options.maxAttempts, defaults.maxAttempts),
    maxDeliveryAttempts: count(
      'maxDeliveryAttempts',
      options.maxDeliveryAttempts,
      defaults.maxDeliveryAttempts,
    ),
    connectTimeoutMs: timeout(
      'connectTimeoutMs',
      options.connectTimeoutMs,
      defaults.connectTimeoutMs,
    ),
    resumeTimeoutMs: timeout('resumeTimeoutMs', options.resumeTimeoutMs, defaults.resumeTimeoutMs),
    heartbeatTimeoutMs: timeout(
      'heartbeatTimeoutMs',
      options.heartbeatTimeoutMs,
      defaults.heartbeatTimeoutMs,
      true,
    ),
    createId: options.createId ?? randomId,
    maxInFlight: count('transport.maxInFlight', transport.maxInFlight, defaults.maxInFlight),
  };
}

/**
 * The wait before reconnect attempt `attempt`, from the app's backoff. A backoff that
 * throws or answers something that is not a finite number ≥ 0 falls back to the default,
 * so a bug in it cannot stop the connection from coming back; the answer is clamped to
 * what setTimeout can honour.
 */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  let ms: number;
  try {
    ms = backoff(attempt);
  } catch {
    ms = Number.NaN;
  }
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) ms = defaultBackoff(attempt);
  return Math.min(Math.floor(ms), MAX_TIMEOUT_MS);
}

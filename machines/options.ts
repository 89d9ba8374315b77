import type { Transport } from '../adapters/transport.js';
import { type Backoff, defaultBackoff, MAX_TIMEOUT_MS } from './backoff.js';
import { DURABLE, DURABLE_VERSION, type DurableStore } from './durable.js';
import { describeValue, invalidArgument } from './errors.js';

/** What to do with a send when the outbox is full. */
export type Overflow = 'reject' | 'drop-oldest';

/**
 * What the connection machine takes as input: every option that changes what it
 * decides. `createConnection` takes these plus `clock` and `inspect` (`ConnectionOptions`).
 *
 * This file holds the default of each of these options (`defaults`). The backoff's own
 * parameters are in `backoff.ts`, the real clock in `src/clock.ts`, and each transport's
 * options and defaults in its adapter.
 */
export interface ConnectionInput {
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
   * A message the server leaves unconfirmed this long on a link that is otherwise alive
   * means the link is broken: reported as a `timeout`, the link is replaced and the
   * message resent with its id (it counts as an attempt, R8). In ms; 0 disables.
   * @default 30000
   */
  ackTimeoutMs?: number;
  /**
   * The largest message, in bytes of its JSON: a larger one is refused at `send()` with
   * `too-large` and never queued. The reference server's default body limit.
   * @default 1048576
   */
  maxMessageBytes?: number;
  /**
   * The session id every link of this connection carries (protocol v2): a v2 server
   * takes each message serial of a session once. 16–128 characters of `[A-Za-z0-9_-]`;
   * give it to continue a session (a durable store restores it).
   * @default 128 random bits as 22 base64url characters
   */
  session?: string;
  /**
   * When a v2 server says it no longer knows the session while messages that were on
   * the wire are still unconfirmed (it may or may not have handled them): `'resend'`
   * them (at least once for those), or `'reject'` them with `unconfirmed` (at most once).
   * Either way an `error` of kind `session-lost` says how many.
   * @default 'resend'
   */
  onSessionLost?: 'resend' | 'reject';
  /**
   * For a machine that invokes or spawns `connectionMachine`: also send every event the
   * connection emits to the parent, as `holdfast.message`, `holdfast.delivered`,
   * `holdfast.dropped` and `holdfast.error` (the emitted event's fields, its type
   * prefixed), and announce every entry of a top-level state as `holdfast.state`
   * (`{ state }`; `reconnecting` once per failed attempt). Ignored on a root actor.
   * See docs/embedding.md.
   * @default false
   */
  notifyParent?: boolean;
  /**
   * Where the outbox outlives the process (durable.md): `memoryStore()`,
   * `indexedDbStore()` (`holdfast/browser`), `fileStore()` (`holdfast/node`) or your own
   * `OutboxStore` given to `outboxStore()` (each brings the code that keeps the outbox, so
   * an app without a store bundles none of it). Each message is saved before it is sent and removed once settled; on
   * start the connection waits in `connecting` for the store, then restores its session,
   * serials, positions and unsettled messages (`restored`). See docs/durability.md.
   * @default none: the outbox lives in memory only
   */
  store?: DurableStore;
  /**
   * When the store cannot be opened: `'close'` the connection with an `error` of kind
   * `store`, or go on in `'memory'` (said once, as an `error` of kind `store`).
   * @default 'close'
   */
  storeFallback?: 'close' | 'memory';
  /**
   * Makes message ids for sends that do not bring their own.
   * @default crypto.randomUUID
   */
  createId?: () => string;
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
  readonly ackTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly createId: () => string;
  readonly session: string;
  readonly onSessionLost: 'resend' | 'reject';
  /** From `transport.maxInFlight`. */
  readonly maxInFlight: number;
  readonly notifyParent: boolean;
  /** From `transport.delivery`: whether an `ok` is the server's or only the write's. */
  readonly delivery: 'confirmed' | 'written';
  /** Absent without a store: an idle connection without one carries no field for it. */
  readonly store?: DurableStore;
  readonly storeFallback?: 'close' | 'memory';
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
  ackTimeoutMs: 30_000,
  maxMessageBytes: 1_048_576,
  onSessionLost: 'resend',
  maxInFlight: 1,
} as const satisfies Partial<ResolvedOptions>;

function count(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw invalidArgument(name, 'an integer ≥ 1 or Infinity', value);
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
  throw invalidArgument(name, range, value);
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
export function resolveOptions(options: ConnectionInput): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('options', 'an object with a transport', options);
  }
  const { transport } = options;
  if (
    typeof transport !== 'object' ||
    transport === null ||
    typeof (transport as Partial<Transport>).connect !== 'function'
  ) {
    throw new TypeError(
      `holdfast: transport is required and must be a Transport (an object with connect(events)), got ${describeValue(transport)}`,
    );
  }
  const overflow = options.overflow ?? defaults.overflow;
  if (overflow !== 'reject' && overflow !== 'drop-oldest') {
    throw invalidArgument('overflow', "'reject' or 'drop-oldest'", overflow);
  }
  for (const name of ['backoff', 'createId'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'function') {
      throw invalidArgument(name, 'a function', value);
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
    ackTimeoutMs: timeout('ackTimeoutMs', options.ackTimeoutMs, defaults.ackTimeoutMs, true),
    maxMessageBytes: count('maxMessageBytes', options.maxMessageBytes, defaults.maxMessageBytes),
    createId: options.createId ?? randomId,
    session: sessionOption(options.session),
    onSessionLost: oneOf('onSessionLost', options.onSessionLost, ['resend', 'reject'] as const),
    maxInFlight: count('transport.maxInFlight', transport.maxInFlight, defaults.maxInFlight),
    notifyParent: flag('notifyParent', options.notifyParent),
    delivery: oneOf('transport.delivery', transport.delivery, ['confirmed', 'written'] as const),
    ...storeOptions(options),
  };
}

/** A session id: 16–128 characters of `[A-Za-z0-9_-]` (protocol v2). */
export const SESSION_ID = /^[A-Za-z0-9_-]{16,128}$/;

/** 128 random bits as 22 base64url characters. */
export function newSessionId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function sessionOption(value: unknown): string {
  if (value === undefined) return newSessionId();
  if (typeof value === 'string' && SESSION_ID.test(value)) return value;
  throw invalidArgument('session', '16–128 characters of [A-Za-z0-9_-]', value);
}

function storeOptions(options: ConnectionInput): Pick<ResolvedOptions, 'store' | 'storeFallback'> {
  const storeFallback = oneOf('storeFallback', options.storeFallback, ['close', 'memory'] as const);
  const store = storeOption(options.store);
  return store === undefined ? {} : { store, storeFallback };
}

function storeOption(value: unknown): DurableStore | undefined {
  if (value === undefined) return undefined;
  const version = (value as Partial<DurableStore>)?.[DURABLE]?.version;
  if (version === DURABLE_VERSION) return value as DurableStore;
  throw invalidArgument(
    'store',
    version === undefined
      ? 'a store from memoryStore(), indexedDbStore() or fileStore(), or outboxStore(yourStore)'
      : `a store made by this copy of holdfast (it was made by one whose store logic is version ${describeValue(version)}, this one runs ${DURABLE_VERSION})`,
    value,
  );
}

function flag(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  throw invalidArgument(name, 'a boolean', value);
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0] as T;
  if (allowed.includes(value as T)) return value as T;
  throw invalidArgument(name, allowed.map((a) => `'${a}'`).join(' or '), value);
}

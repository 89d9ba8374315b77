/**
 * The server store (scale-out.md §2): what the reference server keeps that must outlive a
 * link — every stream's log and its epoch, every session's highest serial taken and its
 * refusals — and how a published event reaches every process with a link watching its
 * stream. The default keeps all of it in this process's memory (`memoryServerStore`);
 * `redisStore` (`holdfast/redis`) keeps it in Redis, shared by every process behind a
 * load balancer. Another engine implements this interface; docs/scale-out.md states what
 * each method must guarantee.
 *
 * Every method may answer at once or with a promise (`Maybe`): the memory store answers at
 * once, so a single process pays for no promise on its hot paths.
 */
import type { StreamHead } from '../../adapters/transport.js';

/** A value now, or a promise of it. */
export type Maybe<T> = T | Promise<T>;

/** One logged event: its seq, the epoch that seq counts in, and its data as JSON text. */
export interface StoredEvent {
  readonly stream: string;
  readonly seq: number;
  readonly epoch: string;
  /** The event's `data`, serialised once, when it was published. */
  readonly json: string;
}

/** What a session says of one serial, claimed to be handed to the app. */
export type SerialClaim =
  /**
   * Not taken yet, and this process may hand it to the app; then `commit` with `lease`,
   * which names this claim (a store with leases makes one per claim).
   */
  | { readonly fresh: true; readonly lease?: string }
  /** Taken before: answer with its first verdict (a refusal while it is remembered). */
  | { readonly fresh: false; readonly refusal?: string }
  /** Another process is handing this session's message to its app: retry after this long. */
  | { readonly busy: true; readonly retryAfterMs: number };

/** What a `welcome` says of a session: remembered or not, and the highest serial taken. */
export interface SessionState {
  readonly known: boolean;
  readonly handled: number;
}

/** Stop hearing a stream's live events. */
export type Unwatch = () => void;

export interface ServerStore {
  /**
   * Log one event (its data already JSON) at the stream's next seq, and hand it to the
   * watchers of the stream in every process that shares the store, in seq order, each at
   * most once (see `watch`). Resolves once logged, with the seq and epoch it got.
   */
  append(stream: string, json: string): Maybe<StoredEvent>;
  /** The stream's epoch and its last seq (0 when nothing was logged in this epoch). */
  head(stream: string): Maybe<StreamHead>;
  /**
   * Up to `limit` events of the stream logged after seq `after`, oldest first, at
   * consecutive seqs of the current epoch. Events trimmed from the log are not there.
   */
  read(stream: string, after: number, limit: number): Maybe<readonly StoredEvent[]>;
  /**
   * Hear the stream's live events from the moment this resolves. The store may miss
   * events (pub/sub delivers at most once): the server checks the seqs it gets, and a
   * store that knows it missed some (its subscription dropped) calls `lost`, so the
   * server drops the links watching the stream and their clients resume from the log.
   */
  watch(stream: string, listener: (event: StoredEvent) => void, lost: () => void): Maybe<Unwatch>;
  /** What a `welcome` says of the session under `key`. */
  session(key: string): Maybe<SessionState>;
  /**
   * Claim one serial of a session before handing its message to the app: `fresh` when it
   * was not taken (the session is leased to this process until `commit`), `fresh: false`
   * for a duplicate, `busy` while another process holds the session's lease.
   */
  claim(key: string, serial: number): Maybe<SerialClaim>;
  /**
   * The app's verdict on a claimed serial: `taken := serial`, its refusal remembered if it
   * refused, and the claim's `lease` released.
   */
  commit(key: string, serial: number, refusal?: string, lease?: string): Maybe<void>;
  /** Let go of what the store holds open (connections to its engine). */
  close(): Promise<void>;
}

/** Whether a value is a promise (or any thenable), across realms. */
function isPromise<T>(value: Maybe<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * `next(value)` now if `value` is here, or once it resolves: the one step that lets the
 * server run synchronously on a store that answers at once.
 */
export function andThen<T, U>(value: Maybe<T>, next: (value: T) => Maybe<U>): Maybe<U> {
  return isPromise(value) ? value.then(next) : next(value);
}

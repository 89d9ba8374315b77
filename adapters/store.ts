/**
 * The outbox store contract (`durable.md` §2): where a connection keeps what must outlive
 * its process — its session, its serial reservation, its unsettled messages and its
 * stream positions — so that a reload, a crash or a restart loses nothing.
 *
 * Like a transport, a store only keeps bytes: it decides nothing about when to save or
 * what to send. The connection owns the store while it runs (rule D5), writes to it in
 * batches (one per tick, D1 and D2) and reads it once, when it starts (D3).
 *
 * Everything a store returns is untrusted: the connection checks every record it reads,
 * reports the bad ones and keeps the good ones. Third parties implement this interface
 * for their own storage (React Native's AsyncStorage, SQLite, a server); `memoryStore()`
 * is the reference implementation.
 */
import type { StreamPosition } from './transport.js';

/** One unsettled message, as the store keeps it. */
export interface StoredMessage {
  /** The message id, kept for life (R7). 1–256 characters. */
  readonly id: string;
  /** Its serial within the session (protocol v2): an integer ≥ 1, never reused. */
  readonly serial: number;
  /** Its data as JSON, exactly as it goes on the wire. */
  readonly json: string;
  /** `false` for a notice that is never resent (R9). */
  readonly retry: boolean;
  /** Whether it was ever put on the wire (so the server may have it). */
  readonly sent: boolean;
}

/** Everything a store holds for one connection identity, as `open()` reads it. */
export interface StoredOutbox {
  /**
   * The session id (protocol v2); undefined for a store never written — or one whose
   * session or reservation could not be read, which may still hold messages: they are
   * then sent under a new session, with new serials.
   */
  readonly session: string | undefined;
  /**
   * The serial reservation: every serial used so far is at most this. The connection
   * saves a new reservation (in blocks) before it uses a serial above the old one, so
   * after a crash the next serial starts above everything that may have been used.
   */
  readonly reserved: number;
  /** The unsettled messages, in any order (the connection sorts them by serial). */
  readonly messages: readonly StoredMessage[];
  /** The watched streams and their positions (with epochs where known). */
  readonly positions: readonly StreamPosition[];
  /**
   * What the store could not read — a corrupt record, a record of the wrong shape, a
   * format version from the future — one sentence each, naming it. Reported to the app;
   * never fatal to the records that were fine.
   */
  readonly problems: readonly string[];
}

/**
 * One batch of changes, applied all or nothing, in this order: session, reservation,
 * puts, removals, positions. The connection sends at most one batch at a time and waits
 * for it: a store never sees two batches racing.
 */
export interface StoreBatch {
  /** Set the session id. */
  readonly session?: string;
  /** Raise the serial reservation to this (never lowered). */
  readonly reserved?: number;
  /** Messages to add, or to replace by id (a message first put on the wire: `sent`). */
  readonly put?: readonly StoredMessage[];
  /** Ids of messages to remove (settled: confirmed or dropped, D2). Unknown ids are ignored. */
  readonly remove?: readonly string[];
  /** The positions of every watched stream, replacing the ones held. */
  readonly positions?: readonly StreamPosition[];
}

/** What `open()` found. */
export type StoreOpening =
  /** This connection owns the store now; here is what it holds. */
  | { readonly status: 'open'; readonly outbox: StoredOutbox }
  /**
   * Another live connection owns it (D5). `released` resolves once that owner let go
   * (it never rejects, and may stay pending after `close()`); the connection then calls
   * `open()` again.
   */
  | {
      readonly status: 'busy';
      readonly released: Promise<void>;
      /**
       * Withdraw this wait (stop polling, drop a lock request); `released` may then never
       * resolve. Called when the connection closes while it waits. Optional: a store whose
       * waits cost nothing may leave it out.
       */
      readonly cancel?: () => void;
    };

/** A durable home for one connection's outbox. */
export interface OutboxStore {
  /**
   * Take ownership and read everything. Rejects when the store cannot be opened at all
   * (no storage, no permission): the connection closes with an error of kind `store`,
   * or goes on in memory with `storeFallback: 'memory'`. Called once per connection,
   * again only after a `busy` store was released.
   */
  open(): Promise<StoreOpening>;
  /**
   * Apply one batch, durably: once this resolves, the batch survives the process being
   * killed (and, where the platform allows, power loss). Rejects when it could not be
   * written (quota, disk full): the connection reports an error of kind `store` and
   * rejects the batch's new messages with reason `store` — never sending one unsaved.
   */
  write(batch: StoreBatch): Promise<void>;
  /**
   * Let go of ownership; what is stored stays for the next owner. A connection calls it
   * once, when it lets go, and only if `open()` answered `open` (a shared store cannot
   * tell its callers apart: a waiter withdraws with the `busy` answer's `cancel`). The
   * provided stores also withdraw a wait here. Idempotent.
   */
  close(): Promise<void>;
}

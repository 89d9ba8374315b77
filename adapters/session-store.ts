/**
 * What a v2 server remembers of client sessions (docs/protocol.md, "Sessions and
 * serials"), and the epochs of its stream logs. Shared by the reference server
 * (`src/server/`) and the memory server, so both take a serial by the same rule.
 *
 * Per session: `taken`, the highest serial handed to the app or refused by it, and the
 * last `refusals` refusals with their errors. A session is remembered for `ttlMs` after its
 * last message, and at most `maxSessions` are (the least recently active forgotten first).
 * Memory is O(1) per session plus its refusals; every operation is O(1) amortised (a
 * refusal is found by binary search in its ring): the sessions form a list in the order
 * they were last active, so the oldest, the first to expire and the first to evict, is
 * always at its head. Time is read from `now` only: no timer, so tests inject a clock.
 */

/** What a `welcome` says of a session: remembered or not, and the highest serial taken. */
export interface SessionView {
  readonly known: boolean;
  readonly handled: number;
}

/** What to do with one message of a session. */
export type Intake<E> =
  /** Not taken before: hand it to the app, then `record` the verdict. */
  | { readonly fresh: true }
  /** A duplicate: answer with the first verdict, do not hand it to the app again. */
  | { readonly fresh: false; readonly refusal?: { readonly error: E } };

export interface SessionStoreOptions {
  /** How long a session is remembered after its last message, in ms. */
  ttlMs: number;
  /** Most sessions remembered; one more forgets the least recently active. */
  maxSessions: number;
  /** Refusals remembered per session (the last ones). @default 1024 */
  refusals?: number;
  /** The time, in ms. @default Date.now */
  now?: () => number;
}

interface Entry<E> {
  readonly key: string;
  taken: number;
  lastActive: number;
  prev: Entry<E> | undefined;
  next: Entry<E> | undefined;
  /** The last refusals, as a ring; serials increase from `start` round to the newest. */
  serials?: number[];
  errors?: E[];
  start: number;
}

/** The key a session is remembered under: its id and who opened it (`authorize`'s principal). */
export function sessionKey(session: string, principal?: string): string {
  // A session id holds no ':' (`[A-Za-z0-9_-]`), so the key is unambiguous.
  return principal === undefined ? session : `${session}:${principal}`;
}

export class SessionStore<E> {
  private readonly entries = new Map<string, Entry<E>>();
  private head: Entry<E> | undefined;
  private tail: Entry<E> | undefined;
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly maxRefusals: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions) {
    this.ttlMs = options.ttlMs;
    this.maxSessions = options.maxSessions;
    this.maxRefusals = options.refusals ?? 1024;
    this.now = options.now ?? Date.now;
  }

  /** Sessions remembered now (expired ones may still count until the next call). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * What a `welcome` says of this session. A known session's clock is restarted, as if it
   * had sent a message: a client that just heard "known" resends on the strength of it.
   */
  view(key: string): SessionView {
    const entry = this.live(key);
    if (entry === undefined) return { known: false, handled: 0 };
    this.touch(entry);
    return { known: true, handled: entry.taken };
  }

  /** What `view` would say, without counting as activity (for tests and inspection). */
  peek(key: string): SessionView {
    const entry = this.live(key);
    return entry === undefined
      ? { known: false, handled: 0 }
      : { known: true, handled: entry.taken };
  }

  /** Whether the message with this serial is new to its session, or a duplicate. */
  check(key: string, serial: number): Intake<E> {
    const entry = this.live(key);
    if (entry === undefined || serial > entry.taken) return { fresh: true };
    this.touch(entry);
    const error = refusalOf(entry, serial);
    return error === undefined ? { fresh: false } : { fresh: false, refusal: error };
  }

  /**
   * A fresh message was handed to the app: `taken := serial`, and its refusal remembered
   * when the app refused it. Creates the session (forgetting the least recently active one
   * at `maxSessions`).
   */
  record(key: string, serial: number, refusal?: { error: E }): void {
    let entry = this.live(key);
    if (entry === undefined) {
      if (this.entries.size >= this.maxSessions && this.head) this.remove(this.head);
      entry = { key, taken: 0, lastActive: 0, prev: undefined, next: undefined, start: 0 };
      this.entries.set(key, entry);
    }
    if (serial > entry.taken) entry.taken = serial;
    if (refusal !== undefined) this.remember(entry, serial, refusal.error);
    this.touch(entry);
  }

  /**
   * Forget every session idle for at least `idleMs` (no message, no welcome), as their TTL
   * running out would: one a client is using now is not.
   */
  forgetIdle(idleMs: number): void {
    const cutoff = this.now() - idleMs;
    while (this.head !== undefined && this.head.lastActive <= cutoff) this.remove(this.head);
  }

  /** Forget every session, as a restart without persistence does. */
  clear(): void {
    this.entries.clear();
    this.head = undefined;
    this.tail = undefined;
  }

  /** The session under `key` unless forgotten; expired sessions are dropped on the way. */
  private live(key: string): Entry<E> | undefined {
    this.expire();
    return this.entries.get(key);
  }

  /** Forget every session whose last message is `ttlMs` old or older (from the head). */
  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    while (this.head !== undefined && this.head.lastActive <= cutoff) this.remove(this.head);
  }

  /** Active now: to the tail of the list. */
  private touch(entry: Entry<E>): void {
    entry.lastActive = this.now();
    if (this.tail === entry) return;
    this.unlink(entry);
    entry.prev = this.tail;
    entry.next = undefined;
    if (this.tail) this.tail.next = entry;
    this.tail = entry;
    if (this.head === undefined) this.head = entry;
  }

  private unlink(entry: Entry<E>): void {
    if (entry.prev) entry.prev.next = entry.next;
    else if (this.head === entry) this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else if (this.tail === entry) this.tail = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
  }

  private remove(entry: Entry<E>): void {
    this.unlink(entry);
    this.entries.delete(entry.key);
  }

  /** One more refusal in the session's ring; the oldest goes past `maxRefusals`. */
  private remember(entry: Entry<E>, serial: number, error: E): void {
    if (this.maxRefusals < 1) return;
    entry.serials ??= [];
    entry.errors ??= [];
    if (entry.serials.length < this.maxRefusals) {
      entry.serials.push(serial);
      entry.errors.push(error);
      return;
    }
    entry.serials[entry.start] = serial;
    entry.errors[entry.start] = error;
    entry.start = (entry.start + 1) % this.maxRefusals;
  }
}

/** The refusal remembered for `serial`, by binary search over the ring (serials increase). */
function refusalOf<E>(entry: Entry<E>, serial: number): { error: E } | undefined {
  const { serials, errors } = entry;
  if (serials === undefined || errors === undefined) return undefined;
  const n = serials.length;
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = (entry.start + mid) % n;
    const found = serials[at] as number;
    if (found === serial) return { error: errors[at] as E };
    if (found < serial) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** 96 random bits as 16 base64url characters: a new stream log's epoch. */
export function newEpoch(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

/**
 * The epoch of every stream log. Fixed for a stream from the first moment anyone could
 * see it: a stream nobody has published to yet already has the epoch its log will be
 * created with, so a client that resumed it empty and then saw its first events live is
 * never told of a reset that did not happen. Every log of one generation shares one
 * random epoch (nothing is kept per stream for it); a log that starts over on its own
 * gets a fresh one, and a restart without persistence starts a new generation.
 */
export class Epochs {
  private generation = newEpoch();
  private readonly renewed = new Map<string, string>();

  /** The epoch of `stream`'s log. */
  of(stream: string): string {
    return this.renewed.get(stream) ?? this.generation;
  }

  /** `stream`'s log starts over: a new epoch for it alone. */
  renew(stream: string): string {
    const epoch = newEpoch();
    this.renewed.set(stream, epoch);
    return epoch;
  }

  /** Every log starts over (a restart that lost them). */
  renewAll(): void {
    this.generation = newEpoch();
    this.renewed.clear();
  }
}

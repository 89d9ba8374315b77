/**
 * The watched streams' positions as a persistent map: every version stays readable, and
 * making a new version from the newest one costs O(1) whatever the number of streams.
 *
 * Machine context must not be mutated in place: XState's pure `transition()` and the
 * model-based tests branch from old snapshots, so an old snapshot's positions must still
 * read correctly after a newer one was made. Copying a `Map` per inbound frame kept that
 * promise at O(n) per frame (~3 ms with 10,000 streams). Instead this is Baker's
 * "rerooting" (Conchon & Filliâtre, "A persistent union-find data structure", 2007):
 * the family of versions made from one `emptyPositions()` shares one real `Map`, owned
 * by the version it currently describes, the root. Every other version is a diff — "as
 * the version `next`, but with this one slot" — so a chain of diffs leads from it to the
 * root. Updating the root writes one slot of the `Map`, makes the new version the root
 * and turns the old one into a diff pointing at it: O(1). Reading another version first
 * re-roots: walks its chain and reverses every diff on the way, O(distance), after which
 * it owns the `Map`. The internal pointers change when a version is read, the value a
 * version stands for never does; `size` and the unwatched log are per version outright.
 *
 * Each slot is a watched stream (its seq, and when it was watched: iteration is in watch
 * order) or the mark of a stream the app unwatched: its frames still in flight must not
 * reach the app (R18). The marks are bounded: a version remembers the streams of its
 * `UNWATCHED_REMEMBERED` most recent unwatches and forgets older ones.
 *
 * Fields are `#private`: invisible to `for…in`, JSON and XState's snapshot persistence,
 * none of which must walk a chain of diffs.
 */
import { emptyQueue, peek, push, type Queue, shift } from './queue.js';

/** How many of the most recent unwatches a version remembers (their frames are dropped). */
export const UNWATCHED_REMEMBERED = 10_000;

interface Watched {
  readonly seq: number;
  /** The epoch of the log `seq` counts in (protocol v2), once the server named it. */
  readonly epoch?: string;
  /** When the stream was watched, from the family's clock: iteration is in this order. */
  readonly order: number;
}

interface Unwatched {
  /** When it was unwatched, from the family's clock: matches its entry in the log. */
  readonly unwatchedAt: number;
}

type Slot = Watched | Unwatched;

interface Store {
  readonly slots: Map<string, Slot>;
  /** Stamps for `order` and `unwatchedAt`; only ever goes up, in every version. */
  clock: number;
  /** How many of the most recent unwatches a version remembers. */
  readonly remember: number;
}

/** A version that owns the store (the root), or one slot away from `next`. */
type Node =
  | { readonly store: Store }
  | { readonly stream: string; readonly slot: Slot | undefined; readonly next: Positions };

interface UnwatchEntry {
  readonly stream: string;
  readonly at: number;
}

let work = 0;

/**
 * Slots written since the process started: one per update, one per diff reversed while
 * re-rooting. A debug counter for tests that pin the cost of an update.
 */
export function positionsWork(): number {
  return work;
}

function isWatched(slot: Slot | undefined): slot is Watched {
  return slot !== undefined && 'seq' in slot;
}

function write(store: Store, stream: string, slot: Slot | undefined): void {
  work++;
  if (slot === undefined) store.slots.delete(stream);
  else store.slots.set(stream, slot);
}

/**
 * Watched streams and the last seq seen on each, in the order they were watched, plus the
 * streams unwatched lately. Read like a `ReadonlyMap`; `watch`, `unwatch` and `advance`
 * return a new version and leave this one as it was.
 */
export class Positions implements ReadonlyMap<string, number> {
  /** Watched streams. */
  readonly size: number;
  #node: Node;
  readonly #unwatched: Queue<UnwatchEntry>;

  private constructor(size: number, unwatched: Queue<UnwatchEntry>, node: Node) {
    this.size = size;
    this.#unwatched = unwatched;
    this.#node = node;
  }

  /**
   * A new family with no stream: each connection makes its own (versions of one family
   * share a store). `remember`: how many of the most recent unwatches it remembers.
   */
  static empty(remember = UNWATCHED_REMEMBERED): Positions {
    return new Positions(0, emptyQueue(), { store: { slots: new Map(), clock: 0, remember } });
  }

  /** The store, after making this version its root. */
  #store(): Store {
    const node = this.#node;
    if ('store' in node) return node.store;
    // The chain from here to the root, then every diff reversed from the root back.
    const path: Positions[] = [];
    let at: Positions = this;
    for (let n = at.#node; !('store' in n); n = at.#node) {
      path.push(at);
      at = n.next;
    }
    const root = at.#node as { readonly store: Store };
    const { store } = root;
    for (let i = path.length - 1; i >= 0; i--) {
      const version = path[i] as Positions;
      const diff = version.#node as { stream: string; slot: Slot | undefined; next: Positions };
      const was = store.slots.get(diff.stream);
      write(store, diff.stream, diff.slot);
      diff.next.#node = { stream: diff.stream, slot: was, next: version };
      version.#node = root;
    }
    return store;
  }

  /** The version with `stream`'s slot set to `slot`: the new root. */
  #with(
    stream: string,
    slot: Slot | undefined,
    size: number,
    unwatched: Queue<UnwatchEntry>,
  ): Positions {
    const store = this.#store();
    const root = this.#node;
    const was = store.slots.get(stream);
    write(store, stream, slot);
    const next = new Positions(size, unwatched, root);
    this.#node = { stream, slot: was, next };
    return next;
  }

  get(stream: string): number | undefined {
    const slot = this.#store().slots.get(stream);
    return isWatched(slot) ? slot.seq : undefined;
  }

  has(stream: string): boolean {
    return isWatched(this.#store().slots.get(stream));
  }

  /** `stream` was unwatched lately (and not watched since): drop its frames. */
  isUnwatched(stream: string): boolean {
    const slot = this.#store().slots.get(stream);
    return slot !== undefined && !isWatched(slot);
  }

  /** With `stream` watched from `seq`, after every stream watched before; as is if watched. */
  watch(stream: string, seq: number, epoch?: string): Positions {
    const store = this.#store();
    if (isWatched(store.slots.get(stream))) return this;
    const slot =
      epoch === undefined ? { seq, order: store.clock++ } : { seq, epoch, order: store.clock++ };
    return this.#with(stream, slot, this.size + 1, this.#unwatched);
  }

  /** The epoch `stream`'s position counts in, if the server named one. */
  epochOf(stream: string): string | undefined {
    const slot = this.#store().slots.get(stream);
    return isWatched(slot) ? slot.epoch : undefined;
  }

  /** With `stream` moved to `seq`; as is if `stream` is not watched. */
  advance(stream: string, seq: number): Positions {
    const slot = this.#store().slots.get(stream);
    if (!isWatched(slot) || slot.seq === seq) return this;
    const next =
      slot.epoch === undefined
        ? { seq, order: slot.order }
        : { seq, epoch: slot.epoch, order: slot.order };
    return this.#with(stream, next, this.size, this.#unwatched);
  }

  /** With `stream` at `seq` in `epoch` (a stream frame named it); as is if not watched. */
  inEpoch(stream: string, epoch: string, seq: number): Positions {
    const slot = this.#store().slots.get(stream);
    if (!isWatched(slot) || (slot.seq === seq && slot.epoch === epoch)) return this;
    return this.#with(stream, { seq, epoch, order: slot.order }, this.size, this.#unwatched);
  }

  /** Every watched stream's position with its epoch, in watch order: what a resume names. */
  list(): Array<{ stream: string; seq: number; epoch?: string }> {
    return this.#watched().map(([stream, slot]) =>
      slot.epoch === undefined
        ? { stream, seq: slot.seq }
        : { stream, seq: slot.seq, epoch: slot.epoch },
    );
  }

  /** Without `stream`, remembered as unwatched; as is if `stream` is not watched. */
  unwatch(stream: string): Positions {
    const store = this.#store();
    if (!isWatched(store.slots.get(stream))) return this;
    const at = store.clock++;
    let log = push(this.#unwatched, { stream, at });
    const oldest = log.size > store.remember ? peek(log) : undefined;
    if (oldest !== undefined) log = shift(log);
    const next = this.#with(stream, { unwatchedAt: at }, this.size - 1, log);
    if (oldest === undefined) return next;
    // Forget the oldest unwatch, unless its stream was watched or unwatched again since.
    const slot = store.slots.get(oldest.stream);
    if (slot === undefined || isWatched(slot) || slot.unwatchedAt !== oldest.at) return next;
    return next.#with(oldest.stream, undefined, next.size, log);
  }

  /** `[stream, seq]` of every watched stream, in watch order. O(n), O(n log n) at worst. */
  #entries(): Array<[string, number]> {
    return this.#watched().map(([stream, slot]) => [stream, slot.seq]);
  }

  #watched(): Array<[string, Watched]> {
    const watched: Array<[string, Watched]> = [];
    let ordered = true;
    for (const [stream, slot] of this.#store().slots) {
      if (!isWatched(slot)) continue;
      const last = watched[watched.length - 1];
      if (last !== undefined && last[1].order > slot.order) ordered = false;
      watched.push([stream, slot]);
    }
    // Re-rooting puts a slot back at the end of the Map: restore the watch order.
    if (!ordered) watched.sort((a, b) => a[1].order - b[1].order);
    return watched;
  }

  entries(): MapIterator<[string, number]> {
    return this.#entries()[Symbol.iterator]();
  }

  keys(): MapIterator<string> {
    return this.#entries()
      .map(([stream]) => stream)
      [Symbol.iterator]();
  }

  values(): MapIterator<number> {
    return this.#entries()
      .map(([, seq]) => seq)
      [Symbol.iterator]();
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }

  forEach(
    callback: (seq: number, stream: string, map: ReadonlyMap<string, number>) => void,
    thisArg?: unknown,
  ): void {
    for (const [stream, seq] of this.#entries()) callback.call(thisArg, seq, stream, this);
  }

  /** What `JSON.stringify` and loggers see: the positions, in watch order. */
  toJSON(): Array<{ stream: string; seq: number; epoch?: string }> {
    return this.list();
  }
}

/** No stream watched: the first version of a new family. */
export function emptyPositions(remember = UNWATCHED_REMEMBERED): Positions {
  return Positions.empty(remember);
}

/**
 * A persistent (immutable) FIFO queue of chunks, with O(1) amortised push, unshift and
 * shift, and O(1) per batch for `pushAll` and `takeFront`.
 *
 * Machine context must not be mutated in place: XState's pure `transition()` and the
 * model-based tests branch from old snapshots. Copying an array per send would be O(n)
 * per message and O(n²) for a long queue, so the queue is two linked lists of chunks:
 * `front` in queue order and `back` in reverse, turned around only when `front` runs out.
 * A chunk is an array that is never written after it joins the queue, and a start index
 * into it: a burst of sends is one chunk, not one list cell per message, which is what
 * keeps a long queue light on the garbage collector (docs/benchmarks.md).
 * Invariants: every chunk holds at least one value; `front` is empty only when the whole
 * queue is.
 */

interface Chunk<T> {
  readonly values: readonly T[];
  /** The index of this chunk's first value still in the queue. */
  readonly start: number;
  readonly next: Chunk<T> | null;
}

export interface Queue<T> {
  readonly front: Chunk<T> | null;
  readonly back: Chunk<T> | null;
  readonly size: number;
}

const EMPTY: Queue<never> = { front: null, back: null, size: 0 };

export function emptyQueue<T>(): Queue<T> {
  return EMPTY;
}

function reversed<T>(chunk: Chunk<T> | null): Chunk<T> | null {
  let out: Chunk<T> | null = null;
  for (let at = chunk; at !== null; at = at.next)
    out = { values: at.values, start: at.start, next: out };
  return out;
}

/**
 * The queue with `values` added at the back, in their order. The array becomes part of
 * the queue: the caller must not change it afterwards.
 */
export function pushAll<T>(queue: Queue<T>, values: readonly T[]): Queue<T> {
  if (values.length === 0) return queue;
  const size = queue.size + values.length;
  if (queue.front === null) return { front: { values, start: 0, next: null }, back: null, size };
  return { front: queue.front, back: { values, start: 0, next: queue.back }, size };
}

/** The queue with `value` added at the back. */
export function push<T>(queue: Queue<T>, value: T): Queue<T> {
  return pushAll(queue, [value]);
}

/** The queue with `values` (in their order) put ahead of everything already in it. */
export function unshiftAll<T>(queue: Queue<T>, values: readonly T[]): Queue<T> {
  if (values.length === 0) return queue;
  return {
    front: { values, start: 0, next: queue.front },
    back: queue.back,
    size: queue.size + values.length,
  };
}

/** The value at the head, if any. */
export function peek<T>(queue: Queue<T>): T | undefined {
  const { front } = queue;
  return front === null ? undefined : front.values[front.start];
}

/** A front whose first chunk starts `taken` values later (and is dropped when used up). */
function advance<T>(queue: Queue<T>, taken: number): Queue<T> {
  const front = queue.front as Chunk<T>;
  const start = front.start + taken;
  if (start < front.values.length) {
    return {
      front: { values: front.values, start, next: front.next },
      back: queue.back,
      size: queue.size - taken,
    };
  }
  if (front.next !== null) return { front: front.next, back: queue.back, size: queue.size - taken };
  return { front: reversed(queue.back), back: null, size: queue.size - taken };
}

/** The queue without its head. */
export function shift<T>(queue: Queue<T>): Queue<T> {
  return queue.front === null ? queue : advance(queue, 1);
}

/**
 * Up to `count` values from the head, stopping before the first one `stop` accepts, and
 * the queue without them.
 */
export function takeFront<T>(
  queue: Queue<T>,
  count: number,
  stop?: (value: T) => boolean,
): { taken: T[]; rest: Queue<T> } {
  const taken: T[] = [];
  let rest = queue;
  while (taken.length < count && rest.front !== null) {
    const { values, start } = rest.front;
    const limit = Math.min(values.length, start + count - taken.length);
    let end = limit;
    if (stop !== undefined) {
      for (let i = start; i < limit; i++) {
        if (stop(values[i] as T)) {
          end = i;
          break;
        }
      }
    }
    for (let i = start; i < end; i++) taken.push(values[i] as T);
    if (end > start) rest = advance(rest, end - start);
    if (end < limit) break;
  }
  return { taken, rest };
}

/** Every value, head first. O(n): for inspection, tests and the rare removal. */
export function toArray<T>(queue: Queue<T>): T[] {
  const out: T[] = [];
  for (let at = queue.front; at !== null; at = at.next) {
    for (let i = at.start; i < at.values.length; i++) out.push(at.values[i] as T);
  }
  for (let at = reversed(queue.back); at !== null; at = at.next) {
    for (let i = at.start; i < at.values.length; i++) out.push(at.values[i] as T);
  }
  return out;
}

/** The queue without the first value that matches. O(n); used only to withdraw one message. */
export function removeFirst<T>(queue: Queue<T>, match: (value: T) => boolean): Queue<T> {
  const values = toArray(queue);
  const index = values.findIndex(match);
  if (index < 0) return queue;
  values.splice(index, 1);
  return pushAll(emptyQueue<T>(), values);
}

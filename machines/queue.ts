/**
 * A persistent (immutable) FIFO queue with O(1) amortised push, unshift and shift.
 *
 * Machine context must not be mutated in place: XState's pure `transition()` and the
 * model-based tests branch from old snapshots. Copying an array per send would be
 * O(n) per message and O(n²) for a long queue, so the queue is two linked lists:
 * `front` in queue order and `back` in reverse, turned around only when `front` runs
 * out. Invariant: `front` is empty only when the whole queue is.
 */

interface Cell<T> {
  readonly value: T;
  readonly next: Cell<T> | null;
}

export interface Queue<T> {
  readonly front: Cell<T> | null;
  readonly back: Cell<T> | null;
  readonly size: number;
}

const EMPTY: Queue<never> = { front: null, back: null, size: 0 };

export function emptyQueue<T>(): Queue<T> {
  return EMPTY;
}

function reversed<T>(cell: Cell<T> | null, onto: Cell<T> | null = null): Cell<T> | null {
  let out = onto;
  for (let at = cell; at !== null; at = at.next) out = { value: at.value, next: out };
  return out;
}

/** The queue with `value` added at the back. */
export function push<T>(queue: Queue<T>, value: T): Queue<T> {
  if (queue.front === null) return { front: { value, next: null }, back: null, size: 1 };
  return { front: queue.front, back: { value, next: queue.back }, size: queue.size + 1 };
}

/** The queue with `values` added at the back, in their order: one queue object, not one each. */
export function pushAll<T>(queue: Queue<T>, values: readonly T[]): Queue<T> {
  if (values.length === 0) return queue;
  let { front, back } = queue;
  let i = 0;
  if (front === null) front = { value: values[i++] as T, next: null };
  for (; i < values.length; i++) back = { value: values[i] as T, next: back };
  return { front, back, size: queue.size + values.length };
}

/** Up to `count` values from the head, and the queue without them. */
export function takeFront<T>(queue: Queue<T>, count: number): { taken: T[]; rest: Queue<T> } {
  const taken: T[] = [];
  let { front, back } = queue;
  while (taken.length < count && front !== null) {
    taken.push(front.value);
    front = front.next;
    if (front === null && back !== null) {
      front = reversed(back);
      back = null;
    }
  }
  if (taken.length === 0) return { taken, rest: queue };
  return { taken, rest: { front, back, size: queue.size - taken.length } };
}

/** The queue with `values` (in their order) put ahead of everything already in it. */
export function unshiftAll<T>(queue: Queue<T>, values: readonly T[]): Queue<T> {
  let front = queue.front;
  for (let i = values.length - 1; i >= 0; i--) front = { value: values[i] as T, next: front };
  return { front, back: queue.back, size: queue.size + values.length };
}

/** The value at the head, if any. */
export function peek<T>(queue: Queue<T>): T | undefined {
  return queue.front?.value;
}

/** The queue without its head. */
export function shift<T>(queue: Queue<T>): Queue<T> {
  if (queue.front === null) return queue;
  const next = queue.front.next;
  if (next !== null) return { front: next, back: queue.back, size: queue.size - 1 };
  return { front: reversed(queue.back), back: null, size: queue.size - 1 };
}

/** Every value, head first. O(n): for inspection, tests and the rare removal. */
export function toArray<T>(queue: Queue<T>): T[] {
  const out: T[] = [];
  for (let at = queue.front; at !== null; at = at.next) out.push(at.value);
  const tail: T[] = [];
  for (let at = queue.back; at !== null; at = at.next) tail.push(at.value);
  for (let i = tail.length - 1; i >= 0; i--) out.push(tail[i] as T);
  return out;
}

/** The first value that matches, head first. O(n). */
export function find<T>(queue: Queue<T>, match: (value: T) => boolean): T | undefined {
  return toArray(queue).find(match);
}

/** The queue without the first value that matches. O(n); used only to withdraw one message. */
export function removeFirst<T>(queue: Queue<T>, match: (value: T) => boolean): Queue<T> {
  const values = toArray(queue);
  const index = values.findIndex(match);
  if (index < 0) return queue;
  values.splice(index, 1);
  return unshiftAll(emptyQueue<T>(), values);
}

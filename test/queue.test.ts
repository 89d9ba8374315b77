import { describe, expect, it } from 'vitest';
import {
  emptyQueue,
  peek,
  push,
  removeFirst,
  shift,
  toArray,
  unshiftAll,
} from '../machines/queue.js';

describe('persistent queue', () => {
  it('keeps FIFO order through pushes, shifts and unshifts', () => {
    let q = emptyQueue<number>();
    for (let i = 1; i <= 5; i++) q = push(q, i);
    q = shift(shift(q));
    q = unshiftAll(q, [10, 11]);
    q = push(q, 6);
    expect(toArray(q)).toEqual([10, 11, 3, 4, 5, 6]);
    expect(q.size).toBe(6);
    expect(peek(q)).toBe(10);
  });

  it('never changes a queue it was given (old snapshots stay valid)', () => {
    const a = push(push(emptyQueue<string>(), 'x'), 'y');
    const b = push(shift(a), 'z');
    expect(toArray(a)).toEqual(['x', 'y']);
    expect(toArray(b)).toEqual(['y', 'z']);
    expect(toArray(removeFirst(b, (v) => v === 'z'))).toEqual(['y']);
    expect(toArray(b)).toEqual(['y', 'z']);
  });

  it('drains to empty and shifting an empty queue is harmless', () => {
    let q = push(push(emptyQueue<number>(), 1), 2);
    q = shift(shift(shift(q)));
    expect([q.size, peek(q), toArray(q)]).toEqual([0, undefined, []]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  emptyQueue,
  peek,
  push,
  pushAll,
  removeFirst,
  shift,
  takeFront,
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

  it('takes across chunk boundaries, front and back, and leaves every older queue as it was', () => {
    const a = pushAll(pushAll(pushAll(emptyQueue<number>(), [1, 2, 3]), [4]), [5, 6]);
    const { taken, rest } = takeFront(a, 4);
    expect(taken).toEqual([1, 2, 3, 4]);
    expect([toArray(rest), rest.size, peek(rest)]).toEqual([[5, 6], 2, 5]);
    const b = takeFront(shift(a), 2);
    expect(b.taken).toEqual([2, 3]);
    expect(toArray(b.rest)).toEqual([4, 5, 6]);
    const c = unshiftAll(b.rest, [0]);
    expect(toArray(takeFront(c, 10).rest)).toEqual([]);
    expect(takeFront(c, 10).taken).toEqual([0, 4, 5, 6]);
    expect(toArray(a)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(a.size).toBe(6);
  });

  it('taking nothing, or from an empty queue, returns the same queue', () => {
    const a = pushAll(emptyQueue<number>(), [1]);
    expect(takeFront(a, 0).rest).toBe(a);
    const empty = emptyQueue<number>();
    expect(takeFront(empty, 3)).toEqual({ taken: [], rest: empty });
    expect(pushAll(a, [])).toBe(a);
  });

  it('matches a plain array through a long random mix of operations', () => {
    let q = emptyQueue<number>();
    let model: number[] = [];
    let next = 0;
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 2000; step++) {
      const op = random(5);
      if (op === 0) {
        const values = Array.from({ length: random(4) }, () => next++);
        q = pushAll(q, values);
        model = [...model, ...values];
      } else if (op === 1) {
        q = push(q, next);
        model.push(next++);
      } else if (op === 2) {
        const n = random(5);
        const { taken, rest } = takeFront(q, n);
        expect(taken).toEqual(model.slice(0, n));
        q = rest;
        model = model.slice(n);
      } else if (op === 3) {
        q = shift(q);
        model = model.slice(1);
      } else {
        const values = [next++, next++];
        q = unshiftAll(q, values);
        model = [...values, ...model];
      }
      expect(q.size).toBe(model.length);
      expect(peek(q)).toBe(model[0]);
    }
    expect(toArray(q)).toEqual(model);
  });
});

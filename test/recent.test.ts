import { describe, expect, it } from 'vitest';
import { Recent } from '../adapters/recent.js';

describe('Recent (the dedup window of both servers)', () => {
  it('remembers the last `capacity` keys and forgets the oldest first', () => {
    const recent = new Recent<number>(3);
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) recent.add(key, i);
    expect(['a', 'b', 'c', 'd'].map((k) => recent.has(k))).toEqual([false, true, true, true]);
    expect(recent.get('d')).toBe(3);
    recent.add('e', 4);
    expect(['b', 'c', 'e'].map((k) => recent.has(k))).toEqual([false, true, true]);
    expect(recent.size).toBe(3);
  });

  it('a key added again keeps its place and takes the new value', () => {
    const recent = new Recent<string>(2);
    recent.add('a', 'first');
    recent.add('b', 'b');
    recent.add('a', 'second');
    expect(recent.get('a')).toBe('second');
    recent.add('c', 'c');
    expect([recent.has('a'), recent.has('b'), recent.has('c')]).toEqual([false, true, true]);
  });

  it('a capacity of 0 remembers nothing; a long run stays within capacity', () => {
    const none = new Recent<true>(0);
    none.add('x', true);
    expect(none.has('x')).toBe(false);
    const window = new Recent<true>(100);
    for (let i = 0; i < 10_000; i++) window.add(`id${i}`, true);
    expect(window.size).toBe(100);
    expect([window.has('id9899'), window.has('id9900'), window.has('id9999')]).toEqual([
      false,
      true,
      true,
    ]);
  });
});

/**
 * What a v2 server remembers of sessions (`adapters/session-store.ts`), shared by the
 * reference server and the memory server: `taken` and the last 1,024 refusals per
 * session, expiry `ttlMs` after the last activity, at most `maxSessions` (least recently
 * active first out), and the epochs of stream logs.
 */
import { describe, expect, it } from 'vitest';
import { Epochs, newEpoch, SessionStore, sessionKey } from '../adapters/session-store.js';

const store = (options: Partial<ConstructorParameters<typeof SessionStore>[0]> = {}) =>
  new SessionStore<string>({ ttlMs: 1000, maxSessions: 100, now: () => 0, ...options });

describe('SessionStore', () => {
  it('forgetIdle forgets only the sessions idle that long: one a welcome just viewed stays', () => {
    let now = 0;
    const s = store({ ttlMs: 100_000, now: () => now });
    s.record('old', 1);
    s.record('viewed', 1);
    now = 500;
    s.view('viewed');
    now = 1200;
    s.forgetIdle(1000);
    expect(s.peek('old')).toEqual({ known: false, handled: 0 });
    expect(s.peek('viewed')).toEqual({ known: true, handled: 1 });
  });

  it('a serial above taken is fresh; at or below it, a duplicate with its refusal if it had one', () => {
    const s = store();
    expect(s.check('k', 1)).toEqual({ fresh: true });
    s.record('k', 1);
    s.record('k', 2, { error: 'no' });
    s.record('k', 5);
    expect([1, 2, 3, 5, 6].map((n) => s.check('k', n))).toEqual([
      { fresh: false },
      { fresh: false, refusal: { error: 'no' } },
      { fresh: false },
      { fresh: false },
      { fresh: true },
    ]);
    expect(s.view('k')).toEqual({ known: true, handled: 5 });
    expect(s.view('other')).toEqual({ known: false, handled: 0 });
  });

  it('keeps the last 1,024 refusals per session: an older refused serial is answered ok', () => {
    const s = store();
    for (let serial = 1; serial <= 1500; serial++)
      s.record('k', serial, serial % 2 === 0 ? undefined : { error: `e${serial}` });
    // 750 refusals are odd serials 1..1499; the last 1,024 are all of them. Go further.
    for (let serial = 1501; serial <= 2600; serial++)
      s.record('k', serial, { error: `e${serial}` });
    // Refusals kept: the last 1,024 recorded, i.e. serials 1577..2600.
    expect(s.check('k', 2600)).toEqual({ fresh: false, refusal: { error: 'e2600' } });
    expect(s.check('k', 1577)).toEqual({ fresh: false, refusal: { error: 'e1577' } });
    expect(s.check('k', 1576)).toEqual({ fresh: false });
    expect(s.check('k', 1499)).toEqual({ fresh: false });
    // Found by binary search across the ring's wrap, every one of them.
    for (let serial = 1577; serial <= 2600; serial += 37)
      expect(s.check('k', serial)).toEqual({ fresh: false, refusal: { error: `e${serial}` } });
  });

  it('forgets a session ttlMs after its last activity (a message, a duplicate, a welcome), not before', () => {
    let now = 0;
    const s = store({ now: () => now });
    s.record('k', 1);
    now = 999;
    expect(s.peek('k')).toEqual({ known: true, handled: 1 });
    now = 1000;
    expect(s.peek('k')).toEqual({ known: false, handled: 0 });
    s.record('k', 1);
    now = 1900;
    s.check('k', 1); // a duplicate counts
    now = 2800;
    s.view('k'); // so does a welcome
    now = 3799;
    expect(s.check('k', 1)).toEqual({ fresh: false });
    now = 4799;
    expect(s.check('k', 1)).toEqual({ fresh: true });
    expect(s.size).toBe(0);
  });

  it('at maxSessions, a new session forgets the least recently active one', () => {
    let now = 0;
    const s = store({ maxSessions: 3, now: () => now });
    for (const key of ['a', 'b', 'c']) {
      now++;
      s.record(key, 1);
    }
    now++;
    s.record('a', 2); // a is the most recent now: b is the oldest
    now++;
    s.record('d', 1);
    expect(['a', 'b', 'c', 'd'].map((k) => s.peek(k).known)).toEqual([true, false, true, true]);
    expect(s.size).toBe(3);
    s.clear();
    expect([s.size, s.peek('a').known]).toEqual([0, false]);
  });

  it('sessionKey: one id under two principals is two sessions; no principal is a third', () => {
    const keys = [sessionKey('abc'), sessionKey('abc', 'alice'), sessionKey('abc', 'bob')];
    expect(new Set(keys).size).toBe(3);
  });
});

describe('Epochs', () => {
  it('every log of a generation has its epoch from the start; one that starts over gets a new one; renewAll a new generation', () => {
    const epochs = new Epochs();
    const first = epochs.of('a');
    expect(first).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(epochs.of('never-published')).toBe(first);
    const renewed = epochs.renew('a');
    expect([epochs.of('a'), epochs.of('b')]).toEqual([renewed, first]);
    epochs.renewAll();
    expect(epochs.of('a')).not.toBe(renewed);
    expect(epochs.of('b')).not.toBe(first);
    expect(new Set(Array.from({ length: 100 }, newEpoch)).size).toBe(100);
  });
});

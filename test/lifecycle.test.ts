/** bindPageLifecycle with a scripted window and document (Chromium covers online/offline for real). */
import { describe, expect, it } from 'vitest';
import { bindPageLifecycle } from '../src/browser.js';

function page() {
  const win = new EventTarget() as EventTarget & {
    setTimeout(fn: () => void, ms: number): unknown;
    clearTimeout(id: unknown): void;
  };
  const timers = new Map<number, { fn: () => void; at: number }>();
  let clock = 0;
  let nextId = 0;
  win.setTimeout = (fn, ms) => {
    timers.set(++nextId, { fn, at: clock + ms });
    return nextId;
  };
  win.clearTimeout = (id) => {
    timers.delete(id as number);
  };
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const calls: string[] = [];
  const conn = { suspend: () => calls.push('suspend'), resume: () => calls.push('resume') };
  return {
    win,
    doc,
    calls,
    conn,
    now: () => clock,
    /** Let time pass; `run` false is a phone asleep: no timer fires. */
    pass(ms: number, run = true) {
      clock += ms;
      if (!run) return;
      for (const [id, t] of [...timers]) {
        if (t.at <= clock) {
          timers.delete(id);
          t.fn();
        }
      }
    },
    show(state: 'visible' | 'hidden') {
      doc.visibilityState = state;
      doc.dispatchEvent(new Event('visibilitychange'));
    },
    fire(type: string, init: { persisted?: boolean } = {}) {
      win.dispatchEvent(Object.assign(new Event(type), init));
    },
    timers,
  };
}

describe('bindPageLifecycle', () => {
  it('a hidden page suspends at once by default and resumes on a fresh link when visible', () => {
    const p = page();
    bindPageLifecycle(p.conn, { window: p.win, document: p.doc, now: p.now });
    p.show('hidden');
    p.show('visible');
    expect(p.calls).toEqual(['suspend', 'resume']);
  });

  it('with a grace period a short hide changes nothing; a long one suspends then resumes', () => {
    const p = page();
    bindPageLifecycle(p.conn, { window: p.win, document: p.doc, now: p.now, hiddenGraceMs: 1000 });
    p.show('hidden');
    p.pass(500);
    p.show('visible');
    expect(p.calls).toEqual([]);
    expect(p.timers.size).toBe(0);
    p.show('hidden');
    p.pass(1000);
    p.show('visible');
    expect(p.calls).toEqual(['suspend', 'resume']);
  });

  it('a phone that slept through the grace timer still gets a fresh link when it wakes', () => {
    const p = page();
    bindPageLifecycle(p.conn, { window: p.win, document: p.doc, now: p.now, hiddenGraceMs: 1000 });
    p.show('hidden');
    p.pass(60_000, false);
    p.show('visible');
    expect(p.calls).toEqual(['resume']);
  });

  it('pagehide suspends; pageshow from the back/forward cache resumes; offline/online too', () => {
    const p = page();
    bindPageLifecycle(p.conn, { window: p.win, document: p.doc, now: p.now });
    p.fire('pagehide');
    p.fire('pageshow', { persisted: true });
    p.fire('offline');
    p.fire('online');
    expect(p.calls).toEqual(['suspend', 'resume', 'suspend', 'resume']);
  });

  it('the returned function unbinds everything', () => {
    const p = page();
    const unbind = bindPageLifecycle(p.conn, {
      window: p.win,
      document: p.doc,
      now: p.now,
      hiddenGraceMs: 10,
    });
    p.show('hidden');
    unbind();
    p.pass(100);
    p.fire('offline');
    p.show('visible');
    expect(p.calls).toEqual([]);
  });

  it('names what is missing outside a browser', () => {
    expect(() => bindPageLifecycle({ suspend() {}, resume() {} })).toThrow(
      /pass the window and document options/,
    );
  });
});

import { describe, expect, it, vi } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import { connectionMachine } from '../src/index.js';
import { harness, outcome } from './support/harness.js';
import { settle } from './support/settle.js';

describe('createConnection listeners', () => {
  it('listeners run synchronously, after conn.state shows the change, before the call returns', async () => {
    const h = harness();
    await settle();
    const seen: string[] = [];
    h.conn.on('state', (to, from) => seen.push(`${from}->${to} (state ${h.conn.state})`));
    h.conn.suspend();
    expect(seen).toEqual(['open->suspended (state suspended)']);
  });

  it('a call made from inside a listener takes effect after the current step, in order', async () => {
    const h = harness();
    await settle();
    const seen: string[] = [];
    h.conn.on('state', (to) => {
      seen.push(`enter ${to}`);
      if (to === 'suspended') {
        h.conn.resume();
        seen.push(`after resume() the state is still ${h.conn.state}`);
      }
    });
    h.conn.suspend();
    expect(seen).toEqual([
      'enter suspended',
      'after resume() the state is still suspended',
      'enter connecting',
    ]);
  });

  it('a listener that throws changes nothing; the exception is reported', async () => {
    const report = vi.fn();
    vi.stubGlobal('reportError', report);
    try {
      const h = harness();
      const boom = new Error('listener bug');
      h.conn.on('open', () => {
        throw boom;
      });
      const after = vi.fn();
      h.conn.on('open', after);
      await settle();
      expect(h.conn.state).toBe('open');
      expect(after).toHaveBeenCalledOnce();
      expect(report).toHaveBeenCalledWith(boom);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('without reportError the exception goes to console.error', async () => {
    vi.stubGlobal('reportError', undefined);
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const h = harness();
      h.conn.on('state', () => {
        throw new Error('oops');
      });
      await settle();
      expect(log).toHaveBeenCalledWith(new Error('oops'));
      expect(h.conn.state).toBe('open');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('on() returns a function that removes the listener', async () => {
    const h = harness();
    const seen: string[] = [];
    const off = h.conn.on('state', (to) => seen.push(to));
    await settle();
    off();
    h.conn.suspend();
    expect(seen).toEqual(['open']);
  });

  it('on() names a wrong event or listener', () => {
    const h = harness();
    expect(() => h.conn.on('opened' as 'open', () => {})).toThrow(
      /event must be one of state, open, message, dropped, error, restored, got "opened"/,
    );
    expect(() => h.conn.on('open', 'x' as never)).toThrow(/listener must be a function/);
  });
});

describe('createConnection sends', () => {
  it('a send whose id is already pending rejects with a TypeError naming id', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } } });
    void outcome(h.conn.send('a', { id: 'same' }));
    await expect(h.conn.send('b', { id: 'same' })).rejects.toThrow(TypeError);
    await expect(h.conn.send('b', { id: 'same' })).rejects.toThrow(/id "same" is already pending/);
  });

  it('a custom createId that repeats a pending id is caught the same way', async () => {
    const h = harness({
      connection: { createId: () => 'fixed' },
      server: { behaviour: { send: 'hold' } },
    });
    void outcome(h.conn.send('a'));
    await expect(h.conn.send('b')).rejects.toThrow(/id "fixed" is already pending/);
    const given = outcome(h.conn.send('c', { id: 'fixed' }));
    await settle();
    expect(given.value).toMatch(/already pending/);
  });

  it('an id can be used again once its message settled', async () => {
    const h = harness();
    await h.conn.send('a', { id: 'again' });
    await h.conn.send('b', { id: 'again' });
    expect(h.server.links[0]?.log.filter((r) => r.kind === 'send')).toHaveLength(2);
  });

  it('bad send options reject with a TypeError that names them', async () => {
    const h = harness();
    await expect(h.conn.send('x', { id: '' })).rejects.toThrow(/id must be a non-empty string/);
    await expect(h.conn.send('x', { retry: 'no' as never })).rejects.toThrow(
      /retry must be true or false/,
    );
    await expect(h.conn.send('x', { signal: {} as never })).rejects.toThrow(
      /signal must be an AbortSignal/,
    );
  });

  it('ids come from createId when the send brings none', async () => {
    let n = 0;
    const h = harness({ connection: { createId: () => `id-${++n}` } });
    await h.conn.send('x');
    expect(h.received()).toEqual(['id-1']);
  });

  it('a rejected send that nobody awaits does not become an unhandled rejection', async () => {
    const h = harness({ connection: { maxQueue: 1 }, server: { behaviour: { send: 'hold' } } });
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      void h.conn.send('a');
      void h.conn.send('b'); // overflow, never awaited
      await settle();
      await settle();
      expect(h.dropped.map((e) => e.reason)).toEqual(['overflow']);
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('watch() names a bad stream or position', () => {
    const h = harness();
    expect(() => h.conn.watch('')).toThrow(/stream must be a string of 1–256 characters/);
    expect(() => h.conn.watch('a', -1)).toThrow(/fromSeq must be an integer ≥ 0, got -1/);
    expect(() => h.conn.watch('a', 1.5)).toThrow(/fromSeq must be an integer/);
  });
});

describe('connectionMachine on its own', () => {
  it('runs with createActor and the options as input, and emits what happened', async () => {
    const clock = new SimulatedClock();
    const server = createMemoryServer({ record: true, heartbeatMs: 0 });
    const actor = createActor(connectionMachine, {
      input: { transport: server.transport(), createId: () => 'generated' },
      clock,
    });
    const delivered: string[] = [];
    actor.on('delivered', (event) => delivered.push(...event.messages.map((m) => m.id)));
    actor.start();
    actor.send({ type: 'send', data: 'hello' });
    await settle();
    expect(actor.getSnapshot().value).toEqual({ open: 'heartbeat' });
    expect(delivered).toEqual(['generated']);
    actor.send({ type: 'close' });
    expect(actor.getSnapshot().status).toBe('done');
  });
});

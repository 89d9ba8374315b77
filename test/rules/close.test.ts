import { describe, expect, it } from 'vitest';
import { harness, outcome, sendMany } from '../support/harness.js';
import { settle } from '../support/settle.js';
import { pendingTimers } from '../support/timers.js';

describe('close rule', () => {
  it('R14 close rejects every queued and in-flight message with closed, each with dropped', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 2 });
    const sends = sendMany(h.conn, 4).map(outcome);
    await settle();
    expect(h.sentOn(0)).toEqual(['m1', 'm2']);
    h.conn.close();
    expect(h.conn.state).toBe('closed');
    await settle();
    expect(sends.map((s) => s.value)).toEqual(['closed', 'closed', 'closed', 'closed']);
    expect(h.dropped.map((e) => e.messageId)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(h.server.live).toEqual([]);
  });

  it('R14 send after close rejects at once; a second close does nothing', async () => {
    const h = harness();
    await settle();
    h.conn.close();
    h.conn.close();
    await expect(h.conn.send('late', { id: 'late' })).rejects.toMatchObject({
      name: 'DeliveryError',
      reason: 'closed',
      messageId: 'late',
    });
    expect(h.states).toEqual(['open', 'closed']);
    // No listener outlives the close: the rejected promise is the report.
    expect(h.dropped).toEqual([]);
  });

  it('R14 no timer or listener outlives a closed connection', async () => {
    const h = harness({
      connection: { heartbeatTimeoutMs: 1000 },
      server: { behaviour: { connect: 'hold' } },
    });
    await settle();
    expect(pendingTimers(h.clock)).toBe(1); // the connect timeout
    let calls = 0;
    h.conn.on('state', () => calls++);
    h.conn.close();
    expect(calls).toBe(1);
    expect(pendingTimers(h.clock)).toBe(0);
    expect(h.conn.actor.getSnapshot().status).toBe('done');
    expect(Object.keys(h.conn.actor.getSnapshot().children)).toEqual([]);
    h.conn.resume();
    h.conn.suspend();
    await h.advance(60_000);
    expect(calls).toBe(1);
    expect(h.server.links).toHaveLength(1);
  });

  it('R14 close from every state ends in closed', async () => {
    for (const prepare of [
      'connecting',
      'reconnecting',
      'suspended',
      'flushing',
      'open',
    ] as const) {
      const h = harness({ server: { behaviour: { send: 'hold' } } });
      await settle();
      if (prepare === 'connecting') h.conn.resume();
      if (prepare === 'reconnecting') h.server.current?.drop();
      if (prepare === 'suspended') h.conn.suspend();
      if (prepare === 'flushing') {
        void outcome(h.conn.send('x'));
        await settle();
        h.conn.resume(); // x goes back to the queue and is flushed on the fresh link
      }
      if (prepare === 'connecting') {
        h.server.behave({ connect: 'hold' });
        h.conn.suspend();
        h.conn.resume();
      }
      await settle();
      expect(h.conn.state).toBe(prepare);
      h.conn.close();
      expect(h.conn.state).toBe('closed');
      expect(pendingTimers(h.clock)).toBe(0);
    }
  });
});

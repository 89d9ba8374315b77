import { describe, expect, it } from 'vitest';
import { BACKOFF_MS, harness, outcome, sendMany } from '../support/harness.js';
import { settle } from '../support/settle.js';

describe('delivery rules', () => {
  it('R1 messages reach the server in send order across many reconnects', async () => {
    const h = harness({ maxInFlight: 4 });
    let n = 0;
    // Every third send finds the server has forgotten the link.
    h.server.behave({ send: () => (++n % 3 === 0 ? 'stale' : 'ok') });
    const sends = sendMany(h.conn, 30).map(outcome);
    for (let i = 0; i < 60 && sends.some((s) => s.value === undefined); i++) {
      await settle();
      if (i % 4 === 3) h.server.current?.drop();
      await h.advance(BACKOFF_MS);
    }
    expect(sends.map((s) => s.value)).toEqual(Array(30).fill('ok'));
    expect(h.received()).toEqual(Array.from({ length: 30 }, (_, i) => `m${i + 1}`));
    expect(h.server.links.length).toBeGreaterThan(5);
    expect(h.dropped).toEqual([]);
  });

  it('R4 open fires only after the queue drained and every flushed message was confirmed', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 8 });
    const sends = sendMany(h.conn, 3);
    let openSeenWith = -1;
    h.conn.on('open', () => {
      openSeenWith = h.server.received.length;
    });
    await settle();
    expect(h.conn.state).toBe('flushing');
    const late = h.conn.send('late', { id: 'late' });
    await settle();
    const link = h.server.current;
    if (!link) throw new Error('no link');
    expect(link.pendingSends.map((s) => s.message.id)).toEqual(['m1', 'm2', 'm3', 'late']);
    for (const id of ['m1', 'm2', 'm3'])
      link.pendingSends.find((s) => s.message.id === id)?.answer('ok');
    await settle();
    expect(h.conn.state).toBe('flushing');
    expect(openSeenWith).toBe(-1);
    link.pendingSends[0]?.answer('ok');
    await Promise.all([...sends, late]);
    expect(h.conn.state).toBe('open');
    expect(openSeenWith).toBe(4);
  });

  it('R4 a send from an open listener goes after everything that was queued', async () => {
    const h = harness({ maxInFlight: 8 });
    h.conn.on('open', () => {
      if (!h.received().includes('from-open')) void h.conn.send('x', { id: 'from-open' });
    });
    const sends = sendMany(h.conn, 3);
    await settle();
    await Promise.all(sends);
    await settle();
    expect(h.received()).toEqual(['m1', 'm2', 'm3', 'from-open']);
    expect(h.states).toEqual(['flushing', 'open']);
  });

  it('R6 stale sends go back in order with the same ids, and reconnect once per link', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 8 });
    const sends = sendMany(h.conn, 4);
    await settle();
    const first = h.server.current;
    if (!first) throw new Error('no link');
    expect(first.pendingSends).toHaveLength(4);
    h.server.behave({ send: 'ok' });
    // Every in-flight send comes back stale at once: one reconnect, not four.
    for (const pending of [...first.pendingSends]) pending.answer('stale');
    await settle();
    expect(h.conn.state).toBe('reconnecting');
    expect(h.errors.filter((e) => e.kind === 'stale')).toHaveLength(1);
    await h.advance(BACKOFF_MS);
    await Promise.all(sends);
    expect(h.server.links).toHaveLength(2);
    expect(h.sentOn(1)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(h.received()).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('R6 a stale send puts unconfirmed messages back ahead of the ones still queued', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 2 });
    const sends = sendMany(h.conn, 4);
    await settle();
    const link = h.server.current;
    if (!link) throw new Error('no link');
    link.pendingSends[1]?.answer('ok'); // m2 confirmed, m1 still out
    await settle();
    h.server.behave({ send: 'ok' });
    link.pendingSends[0]?.answer('stale'); // m1 stale; m3 had taken m2's place on the wire
    await settle();
    await h.advance(BACKOFF_MS);
    await Promise.all(sends);
    expect(h.sentOn(0)).toEqual(['m1', 'm2', 'm3']);
    expect(h.sentOn(1)).toEqual(['m1', 'm3', 'm4']);
  });

  it('R7 a message keeps one id for life, and the server hands it to its app once', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 1 });
    const sent = h.conn.send('once', { id: 'only-id' });
    await settle();
    // The server handled it, but the link died before the client heard.
    h.server.current?.pendingSends[0]?.handleWithoutReply();
    h.server.behave({ send: 'ok' });
    h.server.current?.drop();
    await settle();
    await h.advance(BACKOFF_MS);
    await sent;
    expect(h.sentOn(0)).toEqual(['only-id']);
    expect(h.sentOn(1)).toEqual(['only-id']);
    expect(h.received()).toEqual(['only-id']);
  });

  it('R8 a message sent maxDeliveryAttempts times without success is dropped and the queue moves on', async () => {
    const h = harness({ connection: { maxDeliveryAttempts: 3 } });
    h.server.behave({ send: (m) => (m.id === 'poison' ? 'stale' : 'ok') });
    const poison = outcome(h.conn.send('p', { id: 'poison' }));
    const next = h.conn.send('n', { id: 'next' });
    for (let i = 0; i < 5; i++) {
      await settle();
      await h.advance(BACKOFF_MS);
    }
    await next;
    expect(poison.value).toBe('attempts-exhausted');
    expect(h.dropped.map((e) => [e.messageId, e.reason])).toEqual([
      ['poison', 'attempts-exhausted'],
    ]);
    const attempts = h.server.links
      .flatMap((l) => l.log)
      .filter((r) => r.kind === 'send' && r.message.id === 'poison');
    expect(attempts).toHaveLength(3);
    expect(h.received()).toEqual(['next']);
    expect(h.conn.state).toBe('open');
  });

  it('R9 retry:false messages are queued offline, sent once, and rejected instead of resent', async () => {
    const h = harness({ server: { behaviour: { connect: 'hold', send: 'hold' } }, maxInFlight: 4 });
    const notice = outcome(h.conn.send('bye', { id: 'notice', retry: false }));
    const normal = h.conn.send('hello', { id: 'normal' });
    await settle();
    h.server.current?.accept();
    await settle();
    expect(h.sentOn(0)).toEqual(['notice', 'normal']);
    // The transport is told which is the notice (OutboundMessage.retry).
    const onWire = h.server.links[0]?.log.flatMap((r) => (r.kind === 'send' ? [r.message] : []));
    expect(onWire?.map((m) => [m.id, m.retry])).toEqual([
      ['notice', false],
      ['normal', true],
    ]);
    h.server.behave({ connect: 'accept', send: 'ok' });
    h.server.current?.pendingSends[0]?.answer('stale');
    await settle();
    expect(notice.value).toBe('not-retried');
    await h.advance(BACKOFF_MS);
    await normal;
    expect(h.sentOn(1)).toEqual(['normal']);
    expect(h.dropped.map((e) => e.reason)).toEqual(['not-retried']);
  });

  it('R9 a retry:false message lost with its link is not-retried; one refused is rejected', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } }, maxInFlight: 4 });
    const lost = outcome(h.conn.send('a', { id: 'lost', retry: false }));
    await settle();
    h.server.current?.drop();
    await settle();
    expect(lost.value).toBe('not-retried');
    await h.advance(BACKOFF_MS);
    const refused = outcome(h.conn.send('b', { id: 'refused', retry: false }));
    await settle();
    h.server.current?.pendingSends[0]?.answer({ status: 'rejected', error: 'no' });
    await settle();
    expect(refused.value).toBe('rejected');
    expect(h.sentOn(1)).toEqual(['refused']);
  });

  it('R10 overflow reject: queued + in flight never exceeds maxQueue, the new send is rejected', async () => {
    const h = harness({
      connection: { maxQueue: 3 },
      server: { behaviour: { send: 'hold' } },
      maxInFlight: 2,
    });
    const sends = sendMany(h.conn, 3).map(outcome);
    const extra = outcome(h.conn.send('x', { id: 'extra' }));
    await settle();
    expect(extra.value).toBe('overflow');
    expect(h.dropped.map((e) => [e.messageId, e.reason])).toEqual([['extra', 'overflow']]);
    // The requeue path: two in flight come back stale and the bound still holds.
    h.server.behave({ send: 'hold' });
    for (const p of [...(h.server.current?.pendingSends ?? [])]) p.answer('stale');
    await settle();
    const more = outcome(h.conn.send('y', { id: 'more' }));
    await settle();
    expect(more.value).toBe('overflow');
    expect(h.conn.actor.getSnapshot().context.outbox.queue.size).toBe(3);
    expect(sends.map((s) => s.value)).toEqual([undefined, undefined, undefined]);
  });

  it('R10 overflow drop-oldest drops the oldest queued message, never one in flight', async () => {
    const h = harness({
      connection: { maxQueue: 3, overflow: 'drop-oldest' },
      server: { behaviour: { send: 'hold' } },
      maxInFlight: 1,
    });
    const [m1, m2, m3] = sendMany(h.conn, 3).map(outcome);
    await settle(); // m1 is in flight
    const m4 = outcome(h.conn.send('4', { id: 'm4' }));
    await settle();
    expect([m1?.value, m2?.value, m3?.value, m4.value]).toEqual([
      undefined,
      'overflow',
      undefined,
      undefined,
    ]);
    expect(h.dropped.map((e) => e.messageId)).toEqual(['m2']);
  });

  it('R10 overflow drop-oldest rejects the new send when every message is in flight', async () => {
    const h = harness({
      connection: { maxQueue: 2, overflow: 'drop-oldest' },
      server: { behaviour: { send: 'hold' } },
      maxInFlight: 2,
    });
    sendMany(h.conn, 2);
    await settle();
    const extra = outcome(h.conn.send('x', { id: 'extra' }));
    await settle();
    expect(extra.value).toBe('overflow');
    expect(h.sentOn(0)).toEqual(['m1', 'm2']);
  });

  it('R11 a rejected message rejects with the server reason; the link stays and the queue moves on', async () => {
    const h = harness();
    h.server.behave({
      send: (m) => (m.id === 'bad' ? { status: 'rejected', error: 'too big' } : 'ok'),
    });
    const bad = h.conn.send('b', { id: 'bad' });
    const good = h.conn.send('g', { id: 'good' });
    await settle();
    await expect(bad).rejects.toMatchObject({
      name: 'DeliveryError',
      reason: 'rejected',
      cause: 'too big',
    });
    await expect(bad).rejects.toThrow(/too big/);
    await good;
    expect(h.server.links).toHaveLength(1);
    expect(h.conn.state).toBe('open');
  });

  it('R12 a transient failure counts an attempt, keeps the message at the head and reconnects with backoff', async () => {
    const h = harness({ connection: { maxDeliveryAttempts: 5 } });
    let failures = 1;
    h.server.behave({
      send: () => (failures-- > 0 ? { status: 'retry', error: new Error('503') } : 'ok'),
    });
    const sends = sendMany(h.conn, 2);
    await settle();
    expect(h.conn.state).toBe('reconnecting');
    expect(h.errors[0]?.cause).toEqual(new Error('503'));
    await h.advance(BACKOFF_MS - 1);
    expect(h.server.links).toHaveLength(1);
    await h.advance(1);
    await Promise.all(sends);
    expect(h.sentOn(1)).toEqual(['m1', 'm2']);
    expect(h.received()).toEqual(['m1', 'm2']);
  });

  it('R19 a signal withdraws a message that was never on the wire', async () => {
    const h = harness({ server: { behaviour: { connect: 'hold' } } });
    const controller = new AbortController();
    const withdrawn = outcome(h.conn.send('w', { id: 'w', signal: controller.signal }));
    const kept = h.conn.send('k', { id: 'k' });
    controller.abort();
    await settle();
    expect(withdrawn.value).toBe('aborted');
    h.server.current?.accept();
    await kept;
    expect(h.sentOn(0)).toEqual(['k']);
  });

  it('R19 an already aborted signal rejects at once', async () => {
    const h = harness();
    await expect(h.conn.send('w', { signal: AbortSignal.abort() })).rejects.toMatchObject({
      reason: 'aborted',
    });
    expect(h.dropped).toHaveLength(1);
  });

  it('R19 once sent, a message can no longer be withdrawn, also after it was re-queued', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } } });
    const controller = new AbortController();
    const sent = outcome(h.conn.send('s', { id: 's', signal: controller.signal }));
    await settle();
    h.server.current?.drop();
    await settle();
    expect(h.conn.state).toBe('reconnecting');
    controller.abort(); // it is back in the queue now, but the server may have it
    await settle();
    h.server.behave({ send: 'ok' });
    await h.advance(BACKOFF_MS);
    expect(sent.value).toBe('ok');
    expect(h.sentOn(1)).toEqual(['s']);
  });
});

import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { BACKOFF_MS, harness, outcome, sendMany } from '../support/harness.js';
import { manualTransport } from '../support/manual-transport.js';
import { settle } from '../support/settle.js';
import { pendingTimers } from '../support/timers.js';

describe('link rules', () => {
  it('R2 the resume handshake completes before any message is sent on a new link', async () => {
    const h = harness({ server: { behaviour: { resume: 'hold' } }, maxInFlight: 8 });
    h.conn.watch('a', 3);
    const sends = sendMany(h.conn, 2);
    await settle();
    const link = h.server.current;
    if (!link) throw new Error('no link');
    expect(h.conn.state).toBe('connecting');
    expect(link.log).toEqual([{ kind: 'resume', positions: [{ stream: 'a', seq: 3 }] }]);
    link.pendingResumes[0]?.ok();
    await Promise.all(sends);
    expect(link.log.map((r) => r.kind)).toEqual(['resume', 'send', 'send']);
  });

  it('R2 with no watched stream there is no handshake and the flush starts at once', async () => {
    const h = harness();
    const sends = sendMany(h.conn, 2);
    await Promise.all(sends.map((s) => s.then(settle)));
    expect(h.server.links[0]?.log.map((r) => r.kind)).toEqual(['send', 'send']);
  });

  it('R2 streams watched before the first link are resumed on the first link, and on every later one', async () => {
    const h = harness();
    // 'b' has seven events, so resuming it from 7 is no reset (R23).
    for (let seq = 1; seq <= 7; seq++) h.server.publish('b', seq);
    h.conn.watch('a');
    h.conn.watch('b', 7);
    await settle();
    h.server.current?.drop();
    await settle();
    await h.advance(BACKOFF_MS);
    const handshakes = h.server.links.map((l) => l.log[0]);
    expect(handshakes).toMatchObject([
      {
        kind: 'resume',
        answer: 'ok',
        positions: [
          { stream: 'a', seq: 0 },
          { stream: 'b', seq: 7 },
        ],
      },
      {
        kind: 'resume',
        answer: 'ok',
        positions: [
          { stream: 'a', seq: 0 },
          { stream: 'b', seq: 7 },
        ],
      },
    ]);
  });

  it('R3 a failed resume discards the link, keeps the queue and backs off', async () => {
    const h = harness({ server: { behaviour: { resume: 'fail' } }, maxInFlight: 8 });
    h.conn.watch('a');
    const sends = sendMany(h.conn, 3);
    await settle();
    expect(h.conn.state).toBe('reconnecting');
    expect(h.server.links[0]?.state).toBe('closed');
    expect(h.sentOn(0)).toEqual([]);
    expect(h.errors.map((e) => e.kind)).toEqual(['link']);
    h.server.behave({ resume: 'ok' });
    await h.advance(BACKOFF_MS);
    await Promise.all(sends);
    expect(h.sentOn(1)).toEqual(['m1', 'm2', 'm3']);
  });

  it('R3 a resume that exceeds resumeTimeoutMs fails the same way', async () => {
    const h = harness({
      connection: { resumeTimeoutMs: 500 },
      server: { behaviour: { resume: 'hold' } },
    });
    h.conn.watch('a');
    const sent = outcome(h.conn.send('x', { id: 'x' }));
    await settle();
    await h.advance(499);
    expect(h.conn.state).toBe('connecting');
    await h.advance(1);
    expect(h.conn.state).toBe('reconnecting');
    expect(h.errors.map((e) => e.kind)).toEqual(['timeout']);
    expect(h.server.links[0]?.state).toBe('closed');
    expect(h.sentOn(0)).toEqual([]);
    expect(sent.value).toBeUndefined();
  });

  it('R5 at most one link exists, and the old one is closed before the new one opens', async () => {
    const h = harness();
    const liveWhenOpened: number[] = [];
    const transport = h.server.transport();
    const watched = createConnection({
      clock: h.clock,
      backoff: () => BACKOFF_MS,
      transport: {
        connect(events) {
          liveWhenOpened.push(h.server.live.length);
          return transport.connect(events);
        },
      },
    });
    for (let i = 0; i < 3; i++) {
      await settle();
      watched.resume();
    }
    await settle();
    h.server.current?.drop();
    await settle();
    await h.advance(BACKOFF_MS);
    watched.close();
    // The harness's own connection holds one link; each new one found no other from `watched`.
    expect(liveWhenOpened).toEqual([1, 1, 1, 1, 1]);
  });

  it('R5 events from a replaced link change nothing', async () => {
    const manual = manualTransport();
    const conn = createConnection({ transport: manual.transport, backoff: () => 0 });
    const messages: unknown[] = [];
    conn.on('message', (data) => messages.push(data));
    const first = manual.links[0];
    first?.events.open();
    await settle();
    expect(conn.state).toBe('open');
    conn.resume(); // the app came back to the foreground: replace the link
    await settle();
    expect(first?.closed).toBe(true);
    expect(conn.state).toBe('connecting');
    // The old link wakes up late: open, a frame, a close.
    first?.events.open();
    first?.events.message({ data: 'stale frame' });
    first?.events.close({ reason: 'late' });
    await settle();
    expect(conn.state).toBe('connecting');
    expect(messages).toEqual([]);
    manual.links[1]?.events.open();
    await settle();
    expect(conn.state).toBe('open');
    conn.close();
  });

  it('R5 a link that reports from inside close() changes nothing', async () => {
    const manual = manualTransport({ closeReports: true });
    const conn = createConnection({ transport: manual.transport, backoff: () => 0 });
    const errors: unknown[] = [];
    conn.on('error', (e) => errors.push(e));
    manual.links[0]?.events.open();
    await settle();
    conn.suspend();
    await settle();
    expect(manual.links[0]?.closed).toBe(true);
    expect(conn.state).toBe('suspended');
    expect(errors).toEqual([]);
    conn.resume();
    await settle();
    expect(conn.state).toBe('connecting');
    expect(manual.links).toHaveLength(2);
    conn.close();
  });

  it('R5 a link that opens from inside connect() is still heard, after the step that made it', async () => {
    const manual = manualTransport({ openInConnect: true });
    const conn = createConnection({ transport: manual.transport });
    await settle();
    expect(conn.state).toBe('open');
    conn.close();
  });

  it('R13 suspend sends the notice once over an open link, closes it and stops every timer', async () => {
    const h = harness({ maxInFlight: 4 });
    h.conn.watch('a');
    await settle();
    expect(h.conn.state).toBe('open');
    h.conn.suspend();
    h.conn.suspend();
    await settle();
    expect(h.conn.state).toBe('suspended');
    const suspends = h.server.links.flatMap((l) => l.log).filter((r) => r.kind === 'suspend');
    expect(suspends).toMatchObject([{ kind: 'suspend', positions: [{ stream: 'a', seq: 0 }] }]);
    expect(h.server.live).toEqual([]);
    expect(pendingTimers(h.clock)).toBe(0);
    const queued = h.conn.send('later', { id: 'later' });
    await h.advance(60_000);
    expect(h.server.links).toHaveLength(1);
    h.conn.resume();
    await queued;
    expect(h.sentOn(1)).toEqual(['later']);
  });

  it('R13 suspend while the link is not open yet sends no notice', async () => {
    const h = harness({ server: { behaviour: { connect: 'hold' } } });
    await settle();
    h.conn.suspend();
    await settle();
    expect(h.conn.state).toBe('suspended');
    expect(h.server.links[0]?.log).toEqual([]);
    expect(h.server.links[0]?.state).toBe('closed');
  });

  it('R13 the bound applies to sends while suspended', async () => {
    const h = harness({ connection: { maxQueue: 1 } });
    await settle();
    h.conn.suspend();
    const kept = outcome(h.conn.send('1', { id: 'one' }));
    const over = outcome(h.conn.send('2', { id: 'two' }));
    await settle();
    expect([kept.value, over.value]).toEqual([undefined, 'overflow']);
  });

  it('R13 resume replaces a link that looks open, and does nothing while connecting', async () => {
    const h = harness({ server: { behaviour: { connect: 'hold' } } });
    await settle();
    h.conn.resume();
    await settle();
    expect(h.server.links).toHaveLength(1);
    h.server.current?.accept();
    await settle();
    expect(h.conn.state).toBe('open');
    h.server.behave({ connect: 'accept' });
    h.conn.resume();
    await settle();
    expect(h.server.links).toHaveLength(2);
    expect(h.server.links[0]?.state).toBe('closed');
    expect(h.conn.state).toBe('open');
    // An empty outbox goes straight from a usable link to open.
    expect(h.states).toEqual(['open', 'connecting', 'open']);
  });

  it('R13 resume from reconnecting opens a fresh link at once instead of waiting out the backoff', async () => {
    const h = harness({ connection: { backoff: () => 60_000 } });
    await settle();
    h.server.current?.drop();
    await settle();
    expect(h.conn.state).toBe('reconnecting');
    h.conn.resume();
    await settle();
    expect(h.conn.state).toBe('open');
    expect(h.server.links).toHaveLength(2);
  });

  it('R15 silence longer than heartbeatTimeoutMs on an open link means it is dead', async () => {
    const h = harness({ connection: { heartbeatTimeoutMs: 1000 } });
    await settle();
    await h.advance(900);
    h.server.current?.ping();
    await settle();
    await h.advance(900);
    h.server.current?.push({ data: 'frame' });
    await settle();
    await h.advance(900);
    expect(h.conn.state).toBe('open');
    await h.advance(100);
    expect(h.conn.state).toBe('reconnecting');
    expect(h.errors.map((e) => e.kind)).toEqual(['timeout']);
    expect(h.server.links[0]?.state).toBe('closed');
  });

  it('R15 a stream frame on an open link is a sign of life too', async () => {
    const h = harness({ connection: { heartbeatTimeoutMs: 1000 } });
    await settle();
    for (let i = 0; i < 3; i++) {
      await h.advance(900);
      h.server.current?.pushStream({ stream: 'a', epoch: 'e1', head: 0 });
      await settle();
    }
    expect(h.conn.state).toBe('open');
    expect(h.errors).toEqual([]);
    expect(h.server.links).toHaveLength(1);
    await h.advance(1000);
    expect(h.conn.state).toBe('reconnecting');
  });

  it('R15 a silent server is detected while flushing too', async () => {
    const h = harness({
      connection: { heartbeatTimeoutMs: 1000 },
      server: { behaviour: { send: 'hold' } },
    });
    void outcome(h.conn.send('x'));
    await settle();
    expect(h.conn.state).toBe('flushing');
    h.server.current?.silence();
    await h.advance(1000);
    expect(h.conn.state).toBe('reconnecting');
  });

  it('R15 heartbeatTimeoutMs 0 disables the check', async () => {
    const h = harness({ connection: { heartbeatTimeoutMs: 0 } });
    await settle();
    await h.advance(10 * 60_000);
    expect(h.conn.state).toBe('open');
  });

  it('R15 the server heartbeat keeps an idle link alive', async () => {
    const h = harness({ connection: { heartbeatTimeoutMs: 1000 }, server: { heartbeatMs: 400 } });
    await settle();
    for (let i = 0; i < 10; i++) await h.advance(400);
    expect(h.conn.state).toBe('open');
    expect(h.server.links).toHaveLength(1);
  });

  it('R16 a link not open within connectTimeoutMs is abandoned', async () => {
    const h = harness({
      connection: { connectTimeoutMs: 2000 },
      server: { behaviour: { connect: 'hold' } },
    });
    await h.advance(1999);
    expect(h.conn.state).toBe('connecting');
    await h.advance(1);
    expect(h.conn.state).toBe('reconnecting');
    expect(h.errors.map((e) => e.kind)).toEqual(['timeout']);
    expect(h.server.links[0]?.state).toBe('closed');
    await h.advance(BACKOFF_MS);
    expect(h.server.links).toHaveLength(2);
  });

  it('R17 attempts are spaced by backoff(attempt) from 1, reset when the connection reaches open', async () => {
    const asked: number[] = [];
    const h = harness({
      connection: {
        backoff: (n) => {
          asked.push(n);
          return 10 * n;
        },
      },
      server: { behaviour: { connect: 'refuse' } },
    });
    await settle();
    await h.advance(10);
    await h.advance(20);
    expect(asked).toEqual([1, 2, 3]);
    h.server.behave({ connect: 'accept' });
    await h.advance(29);
    expect(h.server.links).toHaveLength(3);
    await h.advance(1);
    expect(h.conn.state).toBe('open');
    h.server.current?.drop();
    await settle();
    expect(asked).toEqual([1, 2, 3, 1]);
  });

  it('R17 maxAttempts failed link attempts in a row close the connection, reporting every rejection', async () => {
    const h = harness({
      connection: { maxAttempts: 3 },
      server: { behaviour: { connect: 'refuse' } },
    });
    const sends = sendMany(h.conn, 2).map(outcome);
    await settle();
    await h.advance(BACKOFF_MS);
    expect(h.conn.state).toBe('reconnecting');
    await h.advance(BACKOFF_MS);
    expect(h.conn.state).toBe('closed');
    expect(h.server.links).toHaveLength(3);
    expect(h.errors.at(-1)?.kind).toBe('retries-exhausted');
    expect(sends.map((s) => s.value)).toEqual(['closed', 'closed']);
    expect(h.dropped.map((e) => e.cause)).toEqual([h.errors.at(-1), h.errors.at(-1)]);
  });

  it('R17 a poison message that keeps coming back stale is dropped by R8, not mistaken for a dead server', async () => {
    const h = harness({ connection: { maxAttempts: 2, maxDeliveryAttempts: 4 } });
    h.server.behave({ send: (m) => (m.id === 'poison' ? 'stale' : 'ok') });
    const poison = outcome(h.conn.send('p', { id: 'poison' }));
    for (let i = 0; i < 6; i++) await h.advance(BACKOFF_MS);
    expect(poison.value).toBe('attempts-exhausted');
    expect(h.conn.state).toBe('open');
  });

  it('R17 a fatal close closes at once, reporting every rejection', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } } });
    const sends = sendMany(h.conn, 2).map(outcome);
    await settle();
    h.server.current?.drop({ code: 4001, reason: 'auth refused', fatal: true });
    await settle();
    expect(h.conn.state).toBe('closed');
    expect(h.errors.map((e) => [e.kind, e.code])).toEqual([['fatal', 4001]]);
    expect(sends.map((s) => s.value)).toEqual(['closed', 'closed']);
    expect(h.dropped).toHaveLength(2);
  });
});

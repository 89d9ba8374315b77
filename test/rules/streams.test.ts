import { describe, expect, it } from 'vitest';
import { BACKOFF_MS, harness } from '../support/harness.js';
import { settle } from '../support/settle.js';

describe('stream rules', () => {
  it('R18 positions move forward, never back; duplicates are not delivered', async () => {
    const h = harness();
    h.conn.watch('a');
    await settle();
    const link = h.server.current;
    link?.push({ stream: 'a', seq: 1, data: 'one' });
    link?.push({ stream: 'a', seq: 2, data: 'two' });
    link?.push({ stream: 'a', seq: 1, data: 'old replay' });
    link?.push({ stream: 'a', seq: 2, data: 'dup' });
    await settle();
    expect(h.messages).toEqual(['one', 'two']);
    expect(h.conn.positions()).toMatchObject([{ stream: 'a', seq: 2 }]);
    expect(h.errors).toEqual([]);
  });

  it('R18 a jump past position + 1 is delivered and reported as a gap', async () => {
    const h = harness();
    // The log holds what the position counts (a head behind it would be a reset, R23).
    for (let seq = 1; seq <= 4; seq++) h.server.publish('a', seq);
    h.conn.watch('a', 4);
    await settle();
    h.server.current?.push({ stream: 'a', seq: 7, data: 'seven' });
    await settle();
    expect(h.messages).toEqual(['seven']);
    expect(h.conn.positions()).toMatchObject([{ stream: 'a', seq: 7 }]);
    expect(h.errors.map((e) => e.kind)).toEqual(['gap']);
    expect(h.errors[0]?.message).toMatch(/2 frame\(s\) missing/);
    expect([h.errors[0]?.stream, h.errors[0]?.count]).toEqual(['a', 2]);
  });

  it('R18 a reconnect resumes from the last position, and replayed frames are not delivered twice', async () => {
    const h = harness();
    h.conn.watch('a');
    await settle();
    h.server.publish('a', 'one');
    h.server.publish('a', 'two');
    await settle();
    h.server.current?.drop();
    h.server.publish('a', 'three');
    await settle();
    await h.advance(BACKOFF_MS);
    expect(h.server.links[1]?.log[0]).toMatchObject({
      kind: 'resume',
      answer: 'ok',
      positions: [{ stream: 'a', seq: 2 }],
    });
    // A server that replays too much changes nothing for the app.
    h.server.current?.push({ stream: 'a', seq: 2, data: 'two again' });
    await settle();
    expect(h.messages).toEqual(['one', 'two', 'three']);
  });

  it('R18 frames that break the shape are reported as protocol errors and not delivered', async () => {
    const h = harness();
    h.conn.watch('a');
    await settle();
    h.server.current?.push({ stream: 'a', seq: -1, data: 'bad' });
    h.server.current?.push({ stream: 'a', data: 'no seq' });
    h.server.current?.push({ data: 'plain' });
    h.server.current?.push({ stream: 'other', seq: 9, data: 'unwatched' });
    await settle();
    expect(h.messages).toEqual(['plain', 'unwatched']);
    expect(h.errors.map((e) => e.kind)).toEqual(['protocol', 'protocol']);
  });

  it('R18 after unwatch, no frame of that stream reaches the app until it is watched again', async () => {
    const h = harness();
    h.conn.watch('s');
    await settle();
    const link = h.server.current;
    link?.push({ stream: 's', seq: 1, data: 'one' });
    await settle();
    // Still in flight when the app unwatches: it must not arrive after unwatch() returned.
    link?.push({ stream: 's', seq: 2, data: 'two' });
    h.conn.unwatch('s');
    await settle();
    link?.push({ stream: 's', seq: 3, data: 'three' });
    link?.push({ stream: 'never watched', seq: 5, data: 'other' });
    await settle();
    expect(h.messages).toEqual(['one', 'other']);
    expect(h.errors).toEqual([]);
    expect(h.conn.positions()).toEqual([]);
    // Give the log three events, so watching from 3 is no reset (R23); the server no
    // longer sends 's' on this link, so they do not reach the app either.
    for (let seq = 1; seq <= 3; seq++) h.server.publish('s', seq);
    await settle();
    h.conn.watch('s', 3);
    await settle();
    expect(link?.log.filter((r) => r.kind === 'resume').at(-1)).toMatchObject({
      positions: [{ stream: 's', seq: 3 }],
    });
    link?.push({ stream: 's', seq: 4, data: 'four' });
    await settle();
    expect(h.messages).toEqual(['one', 'other', 'four']);
    expect(h.conn.positions()).toMatchObject([{ stream: 's', seq: 4 }]);
    expect(h.errors).toEqual([]);
  });

  it('R20 watch on a usable link resumes that stream at once without holding back sends', async () => {
    const h = harness({ server: { behaviour: { resume: 'hold' } }, maxInFlight: 4 });
    await settle();
    expect(h.conn.state).toBe('open');
    h.conn.watch('late', 5);
    const sent = h.conn.send('x', { id: 'x' });
    await settle();
    const link = h.server.current;
    expect(link?.log).toEqual([
      { kind: 'resume', positions: [{ stream: 'late', seq: 5 }] },
      { kind: 'send', message: { id: 'x', serial: 1, data: 'x', json: '"x"', retry: true } },
    ]);
    await sent;
    expect(h.conn.state).toBe('open');
    link?.pendingResumes[0]?.ok();
    await settle();
    expect(h.conn.state).toBe('open');
  });

  it('R20 watching a stream twice keeps its position and sends no second resume', async () => {
    const h = harness();
    h.conn.watch('a');
    await settle();
    h.server.current?.push({ stream: 'a', seq: 1, data: 1 });
    await settle();
    h.conn.watch('a', 0);
    await settle();
    expect(h.conn.positions()).toMatchObject([{ stream: 'a', seq: 1 }]);
    expect(h.server.current?.log.filter((r) => r.kind === 'resume')).toHaveLength(1);
  });

  it('R20 a watch that the server refuses on a live link makes the link reconnect and resume it', async () => {
    const h = harness();
    await settle();
    h.server.behave({ resume: 'fail' });
    h.conn.watch('a');
    await settle();
    expect(h.conn.state).toBe('reconnecting');
    h.server.behave({ resume: 'ok' });
    await h.advance(BACKOFF_MS);
    expect(h.conn.state).toBe('open');
    expect(h.server.links[1]?.log[0]).toMatchObject({
      kind: 'resume',
      positions: [{ stream: 'a', seq: 0 }],
    });
  });

  it('R20 unwatch stops tracking the stream on every later link', async () => {
    const h = harness();
    h.conn.watch('a');
    h.conn.watch('b');
    await settle();
    h.conn.unwatch('a');
    expect(h.conn.positions()).toMatchObject([{ stream: 'b', seq: 0 }]);
    h.server.current?.drop();
    await settle();
    await h.advance(BACKOFF_MS);
    expect(h.server.links[1]?.log[0]).toMatchObject({
      kind: 'resume',
      positions: [{ stream: 'b', seq: 0 }],
    });
  });

  it('R20 a stream watched while the link is still opening is part of its handshake', async () => {
    const h = harness({ server: { behaviour: { connect: 'hold' } } });
    await settle();
    h.conn.watch('a');
    h.server.current?.accept();
    await settle();
    expect(h.server.current?.log).toEqual([
      { kind: 'resume', answer: 'ok', positions: [{ stream: 'a', seq: 0 }] },
    ]);
  });
});

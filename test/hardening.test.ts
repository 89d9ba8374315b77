/**
 * Issue 11, the client half in the machine and `createConnection`: what the app passes is
 * checked at the call; a server that never confirms, refuses credentials, asks to wait
 * or announces a slow heartbeat is understood; drops are reported honestly and never
 * inside `send()`.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { InboundFrame } from '../adapters/transport.js';
import { MAX_STREAMS_PER_RESUME } from '../machines/link-actor.js';
import { createConnection, type DeliveryError } from '../src/index.js';
import { BACKOFF_MS, harness, outcome } from './support/harness.js';
import { manualTransport } from './support/manual-transport.js';
import { settle } from './support/settle.js';

describe('send() checks its data at the call', () => {
  it.each([
    ['a BigInt', 10n, /send\(\) data must serialise to JSON: .*BigInt/],
    [
      'a cycle',
      (() => {
        const a: { self?: unknown } = {};
        a.self = a;
        return a;
      })(),
      /send\(\) data must serialise to JSON: .*circular/,
    ],
    ['undefined', undefined, /send\(\) data must be a JSON value, got undefined/],
    ['a function', () => 1, /send\(\) data must be a JSON value, got a function/],
  ])('%s is a TypeError and nothing is queued', async (_what, data, message) => {
    const h = harness();
    await settle();
    await expect(h.conn.send(data)).rejects.toThrow(message);
    await expect(h.conn.send(data)).rejects.toBeInstanceOf(TypeError);
    await h.conn.send('next', { id: 'next' });
    expect(h.received()).toEqual(['next']);
    expect(h.dropped).toEqual([]);
  });

  it('the JSON made at the call is what the transport gets, beside the untouched data', async () => {
    const h = harness();
    const data = { when: new Date(0), n: 1 };
    await h.conn.send(data, { id: 'a' });
    const record = h.server.links[0]?.log.find((r) => r.kind === 'send');
    expect(record?.kind === 'send' && record.message.data).toBe(data);
    expect(record?.kind === 'send' && record.message.json).toBe(
      '{"when":"1970-01-01T00:00:00.000Z","n":1}',
    );
  });

  it('a message over maxMessageBytes is dropped as too-large at once; its neighbours go through', async () => {
    const h = harness({ connection: { maxMessageBytes: 100 } });
    const before = h.conn.send('ok-1', { id: 'a' });
    // 60 × 'é' is 62 characters of JSON but 122 bytes of UTF-8.
    const big = h.conn.send('é'.repeat(60), { id: 'big' });
    const after = h.conn.send('ok-2', { id: 'b' });
    const error = await big.then(
      () => undefined,
      (e: DeliveryError) => e,
    );
    expect([error?.reason, error?.messageId, error?.sent]).toEqual(['too-large', 'big', false]);
    expect(error?.message).toBe(
      'holdfast: message big is 122 bytes of JSON, over maxMessageBytes 100',
    );
    await Promise.all([before, after]);
    expect(h.received()).toEqual(['a', 'b']);
    expect(h.dropped.map((e) => e.messageId)).toEqual(['big']);
  });

  it('a send event from an embedding app with data that is not JSON is dropped as invalid; the machine carries on', async () => {
    const h = harness();
    await settle();
    const dropped: string[] = [];
    h.conn.actor.on('dropped', ({ error }) => dropped.push(error.reason));
    h.conn.actor.send({ type: 'send', data: 10n, id: 'bad' });
    h.conn.actor.send({ type: 'send', data: 'fine', id: 'good' });
    await settle();
    expect(dropped).toEqual(['invalid']);
    expect(h.received()).toEqual(['good']);
    expect(h.conn.actor.getSnapshot().status).toBe('active');
  });
});

describe('a server that never confirms', () => {
  it('a message unconfirmed for ackTimeoutMs on a live link is a timeout: the link is replaced and the message resent with its id, until attempts-exhausted', async () => {
    const h = harness({
      connection: { ackTimeoutMs: 1000, maxDeliveryAttempts: 2 },
      server: { behaviour: { send: 'hold' } },
    });
    const sent = outcome(h.conn.send('m', { id: 'm1' }));
    await settle();
    h.server.current?.ping();
    await h.advance(999);
    expect(h.errors).toEqual([]);
    await h.advance(1);
    expect(h.errors.map((e) => [e.kind, e.message])).toEqual([
      [
        'timeout',
        'holdfast: waiting for the server to confirm a message on a link that is alive took longer than 1000 ms',
      ],
    ]);
    expect(h.conn.state).toBe('reconnecting');
    await h.advance(BACKOFF_MS);
    expect(h.sentOn(1)).toEqual(['m1']);
    await h.advance(1000);
    expect(sent.value).toBe('attempts-exhausted');
    expect(h.dropped[0]?.sent).toBe(true);
  });

  it('the ack timer belongs to the oldest message: a confirmation restarts it for the next, a steady stream of sends does not', async () => {
    const h = harness({
      connection: { ackTimeoutMs: 1000 },
      server: { behaviour: { send: 'hold' } },
      maxInFlight: 4,
    });
    h.conn.send('a', { id: 'a' });
    await settle();
    await h.advance(600);
    h.conn.send('b', { id: 'b' });
    await settle();
    await h.advance(300);
    h.server.current?.pendingSends[0]?.answer('ok');
    await settle();
    // 900 ms after a; b was sent 300 ms ago and is the head now: its own 1000 ms.
    await h.advance(999);
    expect(h.errors).toEqual([]);
    await h.advance(1);
    expect(h.errors.map((e) => e.kind)).toEqual(['timeout']);
  });

  it('ackTimeoutMs 0 never times a message out', async () => {
    const h = harness({
      connection: { ackTimeoutMs: 0, heartbeatTimeoutMs: 0 },
      server: { behaviour: { send: 'hold' } },
    });
    h.conn.send('a', { id: 'a' });
    await settle();
    await h.advance(10_000_000);
    expect(h.errors).toEqual([]);
    expect(h.conn.state).toBe('flushing');
  });
});

describe('resumes of many streams', () => {
  it(`names at most ${MAX_STREAMS_PER_RESUME} streams per request, and answers them all before the first send`, async () => {
    const h = harness({ server: { behaviour: { resume: 'ok' } } });
    for (let i = 0; i < 250; i++) h.conn.watch(`s${i}`);
    await h.conn.send('after', { id: 'after' });
    const log = h.server.links.at(-1)?.log ?? [];
    expect(log.map((r) => (r.kind === 'resume' ? r.positions.length : r.kind))).toEqual([
      100,
      100,
      50,
      'send',
    ]);
    expect(
      log.flatMap((r) => (r.kind === 'resume' ? r.positions.map((p) => p.stream) : [])),
    ).toEqual(Array.from({ length: 250 }, (_, i) => `s${i}`));
  });

  it('a refused part fails the whole resume', async () => {
    const h = harness({ server: { behaviour: { resume: 'hold' } } });
    for (let i = 0; i < 150; i++) h.conn.watch(`s${i}`);
    await settle();
    h.server.current?.pendingResumes[0]?.ok();
    await settle();
    h.server.current?.pendingResumes[0]?.fail(new Error('no'));
    await settle();
    expect(h.conn.state).toBe('reconnecting');
    expect(h.errors.map((e) => e.kind)).toEqual(['link']);
  });
});

describe('what a server says about the link', () => {
  it('a credentials refusal is retried once at once; a second refusal in a row closes as auth', async () => {
    const h = harness();
    await settle();
    const pending = outcome(h.conn.send('m', { id: 'm1' }));
    h.server.behave({ connect: 'hold', send: 'hold' });
    await settle();
    h.server.dropAll({ code: 4001, auth: true });
    await settle();
    // The first refusal: reported, and a new link at once, with no backoff.
    expect(h.errors.map((e) => [e.kind, e.code])).toEqual([['link', 4001]]);
    await h.advance(0);
    expect(h.server.links).toHaveLength(2);
    h.server.current?.refuse({ code: 4003, auth: true });
    await settle();
    expect(h.conn.state).toBe('closed');
    expect(h.errors.map((e) => [e.kind, e.code])).toEqual([
      ['link', 4001],
      ['auth', 4003],
    ]);
    expect(h.errors[1]?.message).toBe(
      'holdfast: the server refused the credentials twice in a row (code 4003)',
    );
    expect(pending.value).toBe('closed');
  });

  it('a refusal after the connection was open again is a first refusal', async () => {
    const h = harness();
    await settle();
    for (let i = 0; i < 2; i++) {
      h.server.dropAll({ code: 4001, auth: true });
      await settle();
      await h.advance(0);
      expect(h.conn.state).toBe('open');
    }
    expect(h.errors.map((e) => e.kind)).toEqual(['link', 'link']);
  });

  it('Retry-After makes the next attempt wait at least that long, capped at 30 s', async () => {
    const h = harness();
    await settle();
    h.server.dropAll({ retryAfterMs: 5000 });
    await settle();
    await h.advance(BACKOFF_MS);
    expect(h.server.links).toHaveLength(1);
    await h.advance(5000 - BACKOFF_MS);
    expect(h.server.links).toHaveLength(2);
    await settle();
    h.server.dropAll({ retryAfterMs: 3_600_000 });
    await settle();
    await h.advance(29_999);
    expect(h.server.links).toHaveLength(2);
    await h.advance(1);
    expect(h.server.links).toHaveLength(3);
  });

  it('the heartbeat a server announces is honoured: the silence allowed is at least twice it', async () => {
    const manual = manualTransport();
    const clock = new SimulatedClock();
    const conn = createConnection({
      transport: manual.transport,
      clock,
      heartbeatTimeoutMs: 45_000,
      backoff: () => BACKOFF_MS,
    });
    manual.links[0]?.events.open({ heartbeatMs: 40_000 });
    await settle();
    expect(conn.state).toBe('open');
    clock.increment(79_999);
    await settle();
    expect(conn.state).toBe('open');
    clock.increment(1);
    await settle();
    expect(conn.state).toBe('reconnecting');
    conn.close();
  });
});

describe('drops are told honestly and never inside send()', () => {
  it('DeliveryError.sent says whether the message was on the wire', async () => {
    const h = harness({ server: { behaviour: { send: 'hold' } } });
    const onWire = outcome(h.conn.send('a', { id: 'a' }));
    const queued = outcome(h.conn.send('b', { id: 'b' }));
    await settle();
    h.conn.close();
    await settle();
    expect([onWire.value, queued.value]).toEqual(['closed', 'closed']);
    expect(h.dropped.map((e) => [e.messageId, e.sent])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(h.dropped[0]?.message).toBe(
      'holdfast: message a not delivered: the connection is closed; it was sent, so the server may have it',
    );
  });

  it('an abort in the same tick as a send in open withdraws it: it never reaches the wire', async () => {
    const h = harness();
    await settle();
    expect(h.conn.state).toBe('open');
    const controller = new AbortController();
    const aborted = outcome(h.conn.send('x', { id: 'x', signal: controller.signal }));
    controller.abort();
    await h.conn.send('y', { id: 'y' });
    expect(aborted.value).toBe('aborted');
    expect(h.sentOn(0)).toEqual(['y']);
    expect(h.dropped.map((e) => [e.reason, e.sent])).toEqual([['aborted', false]]);
  });

  it('dropped listeners are never called inside send(): a listener that sends again does not recurse', async () => {
    const h = harness({ connection: { maxQueue: 1 }, server: { behaviour: { connect: 'hold' } } });
    let inside = false;
    let calledInside = false;
    let depth = 0;
    let deepest = 0;
    let resends = 0;
    h.conn.on('dropped', () => {
      calledInside ||= inside;
      depth++;
      deepest = Math.max(deepest, depth);
      // Each resend overflows too: reported later, never from within this call.
      if (resends++ < 3) {
        inside = true;
        h.conn.send('again').catch(() => {});
        inside = false;
      }
      depth--;
    });
    h.conn.send('a', { id: 'a' }).catch(() => {});
    inside = true;
    h.conn.send('b', { id: 'b' }).catch(() => {});
    inside = false;
    await settle();
    expect(calledInside).toBe(false);
    expect(resends).toBe(4);
    expect(deepest).toBe(1);
    expect(h.dropped.map((e) => e.reason)).toEqual([
      'overflow',
      'overflow',
      'overflow',
      'overflow',
    ]);
  });
});

describe('the machine survives what no check foresaw', () => {
  it('a frame whose field throws when read is a protocol close of that link; the actor stays active and every send settles', async () => {
    const manual = manualTransport();
    const clock = new SimulatedClock();
    const conn = createConnection({ transport: manual.transport, clock, backoff: () => 10 });
    const errors: string[] = [];
    conn.on('error', (e) => errors.push(e.kind));
    manual.links[0]?.events.open();
    await settle();
    const hostile = {
      get stream(): string {
        throw new Error('boom');
      },
      data: 1,
    } as InboundFrame;
    manual.links[0]?.events.message(hostile);
    await settle();
    expect(conn.actor.getSnapshot().status).toBe('active');
    expect(errors).toEqual(['protocol']);
    expect(manual.links[0]?.closed).toBe(true);
    const sent = outcome(conn.send('m', { id: 'm' }));
    clock.increment(10);
    await settle();
    expect(manual.links).toHaveLength(2);
    conn.close();
    await settle();
    expect(sent.value).toBe('closed');
  });
});

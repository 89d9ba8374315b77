/**
 * Protocol v2 in the machine (spec sessions.md): the session every link carries, serials
 * in send order, a session the server lost, epochs that tell a log that started over,
 * and unwatch over the wire. A scripted transport plays the v2 server's part.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type {
  Link,
  LinkEvents,
  LinkOptions,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
} from '../../adapters/transport.js';
import { type ConnectionError, createConnection, type DeliveryError } from '../../src/index.js';
import { outcome } from '../support/harness.js';
import { settle } from '../support/settle.js';

interface ScriptedLink {
  events: LinkEvents;
  options: LinkOptions | undefined;
  sends: OutboundMessage[];
  answers: Array<(outcome: SendOutcome) => void>;
  resumes: Array<readonly StreamPosition[]>;
  unwatched: string[][];
}

/** A transport whose links the test greets and answers by hand. */
function scripted() {
  const links: ScriptedLink[] = [];
  const transport = {
    maxInFlight: 8,
    connect(events: LinkEvents, options?: LinkOptions): Link {
      const link: ScriptedLink = {
        events,
        options,
        sends: [],
        answers: [],
        resumes: [],
        unwatched: [],
      };
      links.push(link);
      return {
        resume: async (positions) => {
          link.resumes.push(positions);
        },
        send: (message) =>
          new Promise<SendOutcome>((resolve) => {
            link.sends.push(message);
            link.answers.push(resolve);
          }),
        unwatch: (streams) => {
          link.unwatched.push([...streams]);
        },
        close() {},
      };
    },
  };
  return { transport, links, last: () => links[links.length - 1] as ScriptedLink };
}

function connection(options: { onSessionLost?: 'resend' | 'reject'; session?: string } = {}) {
  const script = scripted();
  const clock = new SimulatedClock();
  const conn = createConnection({
    transport: script.transport,
    clock,
    backoff: () => 10,
    ...options,
  });
  const errors: Array<[string, string]> = [];
  const fields: Array<Pick<ConnectionError, 'stream' | 'count'>> = [];
  const dropped: DeliveryError[] = [];
  const messages: unknown[] = [];
  conn.on('error', (e) => {
    errors.push([e.kind, e.message]);
    fields.push({ stream: e.stream, count: e.count });
  });
  conn.on('dropped', (e) => dropped.push(e));
  conn.on('message', (d) => messages.push(d));
  const reconnect = async () => {
    script.last().events.close({ reason: 'dropped' });
    await settle();
    clock.increment(10);
    await settle();
  };
  return { ...script, conn, clock, errors, fields, dropped, messages, reconnect };
}

describe('sessions (protocol v2)', () => {
  it('R21 a connection has one session, carried by every link; its id is 128 random bits in 22 base64url characters', async () => {
    const c = connection();
    expect(c.conn.session).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(connection().conn.session).not.toBe(c.conn.session);
    await c.reconnect();
    expect(c.links.map((l) => l.options?.session)).toEqual([c.conn.session, c.conn.session]);
    const given = connection({ session: 'restored-session-0001' });
    expect(given.conn.session).toBe('restored-session-0001');
    expect(() => connection({ session: 'short' })).toThrow(
      /session must be 16–128 characters of \[A-Za-z0-9_-\], got "short"/,
    );
    for (const conn of [c.conn, given.conn]) conn.close();
  });

  it('R21 every message gets a serial in send order when it enters the outbox, kept on resends', async () => {
    const c = connection();
    c.last().events.open({ session: { known: true, handled: 0 } });
    await settle();
    const sends = ['a', 'b', 'c'].map((id) => outcome(c.conn.send(id, { id })));
    await settle();
    expect(c.last().sends.map((m) => [m.id, m.serial])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    c.last().answers[0]?.({ status: 'ok' });
    await settle();
    await c.reconnect();
    c.last().events.open({ session: { known: true, handled: 1 } });
    await settle();
    expect(c.last().sends.map((m) => [m.id, m.serial])).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
    expect(sends[0]?.value).toBe('ok');
    c.conn.close();
  });
});

describe('a session the server lost (protocol v2)', () => {
  async function lostWhileOnWire(policy?: 'resend' | 'reject') {
    const c = connection(policy === undefined ? {} : { onSessionLost: policy });
    c.last().events.open({ session: { known: true, handled: 0 } });
    await settle();
    const onWire = outcome(c.conn.send('a', { id: 'a' }));
    await settle();
    await c.reconnect();
    const queued = outcome(c.conn.send('b', { id: 'b' }));
    c.last().events.open({ session: { known: false, handled: 0 } });
    await settle();
    return { c, onWire, queued };
  }

  it("R22 a welcome that does not know the session, with a message sent before, reports session-lost and resends it ('resend', the default)", async () => {
    const { c } = await lostWhileOnWire();
    expect(c.errors).toEqual([
      ['link', 'holdfast: the link was lost (dropped)'],
      [
        'session-lost',
        'holdfast: the server no longer knows this session; 1 message(s) were sent and not confirmed: they are sent again, so the server may get them twice',
      ],
    ]);
    expect(c.fields[1]).toEqual({ stream: undefined, count: 1 });
    expect(c.last().sends.map((m) => m.id)).toEqual(['a', 'b']);
    c.conn.close();
  });

  it("R22 with onSessionLost 'reject', those messages are rejected as unconfirmed and sent; the others go on", async () => {
    const { c, onWire } = await lostWhileOnWire('reject');
    expect(onWire.value).toBe('unconfirmed');
    expect(c.dropped.map((e) => [e.messageId, e.reason, e.sent])).toEqual([
      ['a', 'unconfirmed', true],
    ]);
    expect(c.last().sends.map((m) => m.id)).toEqual(['b']);
    c.conn.close();
  });

  it('R22 nothing is reported when no message was on the wire, or when the server speaks v1', async () => {
    const c = connection();
    c.last().events.open({ session: { known: false, handled: 0 } });
    await settle();
    await c.reconnect();
    c.last().events.open();
    await settle();
    expect(c.errors.map(([kind]) => kind)).toEqual(['link']);
    c.conn.close();
  });
});

describe('epochs (protocol v2)', () => {
  it('R23 a stream frame records the epoch; positions() and the next resume carry it', async () => {
    const c = connection();
    c.conn.watch('chat', 3);
    c.last().events.open({ session: { known: true, handled: 0 } });
    await settle();
    c.last().events.stream({ stream: 'chat', epoch: 'k2f9aaaa', head: 5 });
    c.last().events.message({ stream: 'chat', seq: 4, data: 'four' });
    await settle();
    expect(c.conn.positions()).toEqual([{ stream: 'chat', seq: 4, epoch: 'k2f9aaaa' }]);
    expect(c.errors).toEqual([]);
    await c.reconnect();
    c.last().events.open({ session: { known: true, handled: 0 } });
    await settle();
    expect(c.last().resumes).toEqual([[{ stream: 'chat', seq: 4, epoch: 'k2f9aaaa' }]]);
    c.conn.close();
  });

  it.each([
    ['another epoch', 'zzzz9999', 100],
    ['a head behind the position', 'k2f9aaaa', 2],
  ])(
    'R23 %s is a reset: reported with the old position, and the replay from seq 1 is delivered',
    async (_what, epoch, head) => {
      const c = connection();
      c.conn.watch('chat', 7, 'k2f9aaaa');
      c.last().events.open({ session: { known: true, handled: 0 } });
      await settle();
      c.last().events.stream({ stream: 'chat', epoch, head });
      c.last().events.message({ stream: 'chat', seq: 1, data: 'new one' });
      await settle();
      expect(c.errors.map(([kind]) => kind)).toEqual(['reset']);
      expect(c.errors[0]?.[1]).toContain('it was at seq 7 of the old log');
      expect(c.fields[0]).toEqual({ stream: 'chat', count: undefined });
      expect(c.messages).toEqual(['new one']);
      expect(c.conn.positions()).toEqual([{ stream: 'chat', seq: 1, epoch }]);
      c.conn.close();
    },
  );

  it('R23 watch(stream, fromSeq, epoch) resumes from that position in that epoch; a bad epoch is a TypeError', async () => {
    const c = connection();
    c.conn.watch('chat', 41, 'k2f9aaaa');
    expect(() => c.conn.watch('other', 0, '')).toThrow(
      /watch\(\) epoch must be a string of 1–64 characters/,
    );
    c.last().events.open({ session: { known: true, handled: 0 } });
    await settle();
    expect(c.last().resumes).toEqual([[{ stream: 'chat', seq: 41, epoch: 'k2f9aaaa' }]]);
    c.conn.close();
  });
});

describe('unwatch over the wire (protocol v2)', () => {
  it('R24 unwatch on a greeted link tells the server at once; the app gets no more of its frames', async () => {
    const c = connection();
    c.conn.watch('chat');
    c.last().events.open({ session: { known: true, handled: 0 } });
    await settle();
    c.conn.unwatch('chat');
    c.last().events.message({ stream: 'chat', seq: 1, data: 'in flight' });
    await settle();
    expect(c.last().unwatched).toEqual([['chat']]);
    expect(c.messages).toEqual([]);
    c.conn.close();
  });
});

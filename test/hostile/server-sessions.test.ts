/**
 * The reference server's sessions against hostile clients (issue 12): a client cannot
 * poison another's messages by sending their ids first, cannot flush another's
 * deduplication with junk, and a flood of new sessions cannot grow the server past
 * `maxSessions`. Each on both wires.
 */
import { describe, expect, it } from 'vitest';
import { open, sessionId, startServer, v2, WIRES } from '../support/server-wire.js';

describe.each(WIRES)('%s: sessions against hostile clients', (wire) => {
  it('poisoning: a client that sends another client’s ids and serials first changes nothing for that client', async () => {
    const { listening, handed } = await startServer();
    const victim = sessionId('victim');
    const attacker = await open(wire, listening, v2(sessionId('attacker')));
    // It learned the victim's next ids (and guesses its serials): sends them first.
    await attacker.send([
      { id: 'v1', serial: 1, data: 'forged' },
      { id: 'v2', serial: 2, data: 'forged' },
    ]);
    const c = await open(wire, listening, v2(victim));
    expect(c.welcome.session).toEqual({ known: false, handled: 0 });
    expect(
      await c.send([
        { id: 'v1', serial: 1, data: 'real' },
        { id: 'v2', serial: 2, data: 'real' },
      ]),
    ).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(handed.filter((h) => h.message.session === victim).map((h) => h.message.data)).toEqual([
      'real',
      'real',
    ]);
  });

  it('poisoning: even knowing the victim’s session id, another principal cannot take its serials', async () => {
    const { listening, handed } = await startServer({
      authorize: (req) => (req.url?.includes('token=mallory') ? 'mallory' : 'victim'),
    });
    const s = sessionId('known');
    const mallory = await open(wire, listening, `token=mallory&${v2(s)}`);
    await mallory.send([{ id: 'x', serial: 100, data: 'forged' }]);
    const c = await open(wire, listening, `token=victim&${v2(s)}`);
    expect(c.welcome.session).toEqual({ known: false, handled: 0 });
    await c.send([{ id: 'v1', serial: 1, data: 'real' }]);
    expect(handed.map((h) => [h.principal, h.message.data])).toEqual([
      ['mallory', 'forged'],
      ['victim', 'real'],
    ]);
  });

  it('flushing: 20,000 junk messages from another client leave a client’s duplicates recognised', async () => {
    const { listening, handed } = await startServer({ maxBodyBytes: 4 << 20 });
    const s = sessionId('flushed');
    const c = await open(wire, listening, v2(s));
    await c.send([{ id: 'precious', serial: 1, data: 1 }]);
    const attacker = await open(wire, listening, v2(sessionId('flusher')));
    const junk = Array.from({ length: 20_000 }, (_, i) => ({ id: `j${i}`, serial: i + 1 }));
    for (let i = 0; i < junk.length; i += 5_000) await attacker.send(junk.slice(i, i + 5_000));
    // The victim's ack was lost: it resends on a new link.
    const again = await open(wire, listening, v2(s));
    expect(again.welcome.session).toEqual({ known: true, handled: 1 });
    expect(await again.send([{ id: 'precious', serial: 1, data: 1 }])).toEqual([{ status: 'ok' }]);
    expect(handed.filter((h) => h.message.session === s)).toHaveLength(1);
    expect(handed).toHaveLength(20_001);
  });

  it('a flood of new sessions is bounded by maxSessions: the oldest are forgotten, the active kept', async () => {
    const { listening } = await startServer({ maxSessions: 10 });
    const steady = await open(wire, listening, v2(sessionId('steady')));
    for (let n = 0; n < 40; n++) {
      const flood = await open(wire, listening, v2(sessionId(`flood${n}`)));
      await flood.send([{ id: `f${n}`, serial: 1 }]);
      flood.close();
      // The steady client stays active: every fifth flood session, one more message.
      if (n % 5 === 0) await steady.send([{ id: `s${n}`, serial: n + 1 }]);
    }
    const known = async (name: string) =>
      (await open(wire, listening, v2(sessionId(name)))).welcome.session;
    expect(await known('flood0')).toEqual({ known: false, handled: 0 });
    expect(await known('flood29')).toEqual({ known: false, handled: 0 });
    expect(await known('flood39')).toEqual({ known: true, handled: 1 });
    expect(await known('steady')).toEqual({ known: true, handled: 36 });
  });
});

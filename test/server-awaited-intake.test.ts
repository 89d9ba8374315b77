/**
 * `onMessage` may return a promise (scale-out.md §2): the message is confirmed only once
 * it resolves, refused if it rejects, and a session's messages are handed over one at a
 * time — the next, and a resend of this one on another link, wait for it. On both wires.
 */
import { describe, expect, it } from 'vitest';
import { open, sessionId, startServer, v2, WIRES } from './support/server-wire.js';
import { settle } from './support/settle.js';

/** A promise the test settles. */
function gate() {
  let open = (_?: unknown) => {};
  let refuse = (_: unknown) => {};
  const promise = new Promise((resolve, reject) => {
    open = resolve;
    refuse = reject;
  });
  return { promise, open, refuse };
}

/** A few turns of the event loop: what would happen without waiting has happened. */
async function turns(n = 5) {
  for (let i = 0; i < n; i++) await settle();
}

describe.each(WIRES)('%s: an onMessage that returns a promise', (wire) => {
  it('the verdict waits for the promise, and the session’s next message waits its turn', async () => {
    const held = gate();
    const { listening, handed } = await startServer({
      onMessage: (m) => (m.data === 'slow' ? held.promise : undefined),
    });
    const c = await open(wire, listening, v2(sessionId('awaited')));
    let verdicts: unknown;
    const sent = c
      .send([
        { id: 'a', serial: 1, data: 'slow' },
        { id: 'b', serial: 2, data: 'fast' },
      ])
      .then((v) => {
        verdicts = v;
      });
    await turns();
    expect(handed.map((h) => h.message.id)).toEqual(['a']);
    expect(verdicts).toBeUndefined();
    held.open();
    await sent;
    expect(verdicts).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(handed.map((h) => h.message.id)).toEqual(['a', 'b']);
  });

  it('a promise that rejects refuses the message; a resend on another link while it waits gets the same verdict and is not handed over again', async () => {
    const held = gate();
    const { listening, handed } = await startServer({ onMessage: () => held.promise });
    const session = v2(sessionId('resent'));
    const first = await open(wire, listening, session);
    const second = await open(wire, listening, session);
    const one = first.send([{ id: 'x', serial: 1, data: 1 }]);
    await turns();
    const again = second.send([{ id: 'x', serial: 1, data: 1 }]);
    await turns();
    held.refuse(new Error('no room'));
    expect(await one).toEqual([{ status: 'rejected', error: 'no room' }]);
    expect(await again).toEqual([{ status: 'rejected', error: 'no room' }]);
    expect(handed).toHaveLength(1);
  });

  it('a session whose first message the app is still handling is known on the welcome of another link, with nothing handled yet', async () => {
    const held = gate();
    const { listening } = await startServer({ onMessage: () => held.promise });
    const session = v2(sessionId('first-held'));
    const first = await open(wire, listening, session);
    const sent = first.send([{ id: 'x', serial: 1, data: 1 }]);
    await turns();
    const second = await open(wire, listening, session);
    expect(second.welcome.session).toEqual({ known: true, handled: 0 });
    held.open();
    expect(await sent).toEqual([{ status: 'ok' }]);
    const third = await open(wire, listening, session);
    expect(third.welcome.session).toEqual({ known: true, handled: 1 });
  });
});

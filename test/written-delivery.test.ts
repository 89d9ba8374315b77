/**
 * `delivery: 'written'` (issue 13): a transport whose wire has no acks says so, and the
 * connection tells the app the truth — a send resolves unconfirmed, and a link lost after
 * such writes is reported with how many may never have arrived.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import type { Transport } from '../adapters/transport.js';
import { type ConnectionError, createConnection } from '../src/index.js';
import { settle } from './support/settle.js';

function connectionOver(delivery?: 'confirmed' | 'written') {
  const clock = new SimulatedClock();
  const server = createMemoryServer({ record: true, heartbeatMs: 0, clock });
  const transport: Transport = {
    ...server.transport({ maxInFlight: 4 }),
    ...(delivery === undefined ? {} : { delivery }),
  };
  const conn = createConnection({ transport, clock, backoff: () => 10 });
  const errors: ConnectionError[] = [];
  conn.on('error', (e) => errors.push(e));
  return { clock, server, conn, errors };
}

describe("delivery: 'written'", () => {
  it('a send resolves { confirmed: false } with a written transport, { confirmed: true } by default', async () => {
    const written = connectionOver('written');
    const confirmed = connectionOver();
    expect(await written.conn.send('a')).toEqual({ confirmed: false });
    expect(await confirmed.conn.send('a')).toEqual({ confirmed: true });
    expect(await connectionOver('confirmed').conn.send('a')).toEqual({ confirmed: true });
    for (const c of [written, confirmed]) c.conn.close();
  });

  it('a link lost after writes reports them once, as unconfirmed with their count; the next link counts afresh', async () => {
    const { clock, server, conn, errors } = connectionOver('written');
    await Promise.all([conn.send(1), conn.send(2), conn.send(3)]);
    server.current?.drop();
    await settle();
    expect(errors.map((e) => [e.kind, e.count])).toEqual([
      ['link', undefined],
      ['unconfirmed', 3],
    ]);
    expect(errors[1]?.message).toMatch(/3 message\(s\) were written on it without confirmation/);
    clock.increment(10);
    await settle();
    await conn.send(4);
    server.current?.drop();
    await settle();
    clock.increment(10);
    await settle();
    server.current?.drop();
    await settle();
    expect(errors.map((e) => [e.kind, e.count]).slice(2)).toEqual([
      ['link', undefined],
      ['unconfirmed', 1],
      ['link', undefined],
    ]);
    conn.close();
  });

  it('every end of a link with writes reports its own: suspend, resume() and close each count what was written on that link', async () => {
    const { clock, conn, errors } = connectionOver('written');
    await Promise.all([conn.send(1), conn.send(2)]);
    conn.suspend();
    conn.resume();
    await settle();
    await conn.send(3);
    conn.resume();
    await settle();
    clock.increment(10);
    await settle();
    conn.close();
    expect(errors.map((e) => [e.kind, e.count])).toEqual([
      ['unconfirmed', 2],
      ['unconfirmed', 1],
    ]);
    expect(errors[0]?.message).toMatch(/a link ended after 2 message\(s\)/);
  });

  it('a confirmed transport never reports unconfirmed writes', async () => {
    const { server, conn, errors } = connectionOver();
    await conn.send(1);
    server.current?.drop();
    await settle();
    expect(errors.map((e) => e.kind)).toEqual(['link']);
    conn.close();
  });

  it('a delivery that is neither is refused by createConnection, naming it', () => {
    const server = createMemoryServer({});
    const transport = { ...server.transport(), delivery: 'maybe' } as unknown as Transport;
    expect(() => createConnection({ transport })).toThrow(/transport\.delivery/);
  });
});

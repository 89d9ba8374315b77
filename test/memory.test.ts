import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createMemoryServer } from '../adapters/memory.js';
import type { LinkClose, LinkEvents, OutboundMessage } from '../adapters/transport.js';
import { createConnection } from '../src/index.js';
import { settle } from './support/settle.js';
import { pendingTimers } from './support/timers.js';

/**
 * A message as the machine hands it over: `json` is the data serialised once, at send().
 * These links are v1 (opened without a session): the serial is carried but the server
 * deduplicates by id (`memory-v2.test.ts` has the v2 path).
 */
const message = (id: string, data: unknown, serial = 1): OutboundMessage => ({
  id,
  serial,
  data,
  json: JSON.stringify(data),
  retry: true,
});

function recorder() {
  const seen: string[] = [];
  const events: LinkEvents = {
    open: () => seen.push('open'),
    message: (frame) => seen.push(`message ${JSON.stringify(frame)}`),
    alive: () => seen.push('alive'),
    stream: (head) => seen.push(`stream ${JSON.stringify(head)}`),
    close: (info: LinkClose) => seen.push(`close ${info.reason ?? ''}`),
  };
  return { seen, events };
}

describe('memory transport', () => {
  it('reports on a later microtask, never inside the call', async () => {
    const server = createMemoryServer({ heartbeatMs: 0 });
    const { seen, events } = recorder();
    server.transport().connect(events);
    expect(seen).toEqual([]);
    await settle();
    expect(seen).toEqual(['open']);
  });

  it('hands each message id to onMessage once, and confirms a duplicate again', async () => {
    const handled: string[] = [];
    const server = createMemoryServer({ heartbeatMs: 0, onMessage: (m) => handled.push(m.id) });
    const link = server.transport().connect(recorder().events);
    await settle();
    expect(await link.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(await link.send(message('a', 1))).toEqual({ status: 'ok' });
    expect(await link.send(message('b', 2))).toEqual({ status: 'ok' });
    expect(handled).toEqual(['a', 'b']);
  });

  it('hands the server the message as sent: data untouched (the same value), json beside it', async () => {
    const received: OutboundMessage[] = [];
    const server = createMemoryServer({ heartbeatMs: 0, onMessage: (m) => received.push(m) });
    const link = server.transport().connect(recorder().events);
    await settle();
    // A value JSON cannot carry faithfully: the memory wire never serialises it.
    const data = new Map([[1, { at: new Date(0) }]]);
    expect(await link.send({ id: 'a', serial: 1, data, json: '{}', retry: true })).toEqual({
      status: 'ok',
    });
    expect(received[0]?.data).toBe(data);
    expect(received[0]?.json).toBe('{}');
  });

  it('forgets ids beyond its dedup window', async () => {
    const handled: string[] = [];
    const server = createMemoryServer({
      heartbeatMs: 0,
      dedupWindow: 1,
      onMessage: (m) => handled.push(m.id),
    });
    const link = server.transport().connect(recorder().events);
    await settle();
    for (const id of ['a', 'b', 'a']) await link.send(message(id, null));
    expect(handled).toEqual(['a', 'b', 'a']);
  });

  it('replays a stream after a position, within its replay window, before the resume resolves', async () => {
    const server = createMemoryServer({ heartbeatMs: 0, replayWindow: 2 });
    for (const data of ['one', 'two', 'three']) server.publish('s', data);
    const { seen, events } = recorder();
    const link = server.transport().connect(events);
    await settle();
    await link.resume([{ stream: 's', seq: 0 }]);
    seen.push('resumed');
    server.publish('s', 'four');
    await settle();
    expect(seen).toEqual([
      'open',
      'message {"stream":"s","seq":2,"data":"two"}',
      'message {"stream":"s","seq":3,"data":"three"}',
      'resumed',
      'message {"stream":"s","seq":4,"data":"four"}',
    ]);
  });

  it('sends pending when the link closes become stale, resumes fail, and nothing is reported after close()', async () => {
    const server = createMemoryServer({
      heartbeatMs: 0,
      behaviour: { send: 'hold', resume: 'hold' },
    });
    const { seen, events } = recorder();
    const link = server.transport().connect(events);
    await settle();
    const sent = link.send(message('x', 1));
    const resumed = link.resume([]).then(
      () => 'resumed',
      (error: Error) => error.message,
    );
    link.close();
    server.current?.push({ data: 'late' });
    await settle();
    expect(await sent).toEqual({ status: 'stale' });
    expect(await resumed).toMatch(/closed/);
    expect(seen).toEqual(['open']);
    expect(await link.send(message('y', 1))).toEqual({ status: 'stale' });
  });

  it('a refused link closes without opening', async () => {
    const server = createMemoryServer({ heartbeatMs: 0, behaviour: { connect: 'refuse' } });
    const { seen, events } = recorder();
    server.transport().connect(events);
    await settle();
    expect(seen).toEqual(['close refused by the memory server']);
    expect(server.live).toEqual([]);
  });

  it('pings every heartbeatMs on its clock, and stops when the link closes', async () => {
    const clock = new SimulatedClock();
    const server = createMemoryServer({ heartbeatMs: 100, clock });
    const { seen, events } = recorder();
    const link = server.transport().connect(events);
    await settle();
    clock.increment(100);
    clock.increment(100);
    await settle();
    link.close();
    clock.increment(1000);
    await settle();
    expect(seen).toEqual(['open', 'alive', 'alive']);
    expect(pendingTimers(clock)).toBe(0);
  });

  it('a silenced link answers nothing and sends nothing', async () => {
    const server = createMemoryServer({ heartbeatMs: 0 });
    const { seen, events } = recorder();
    const link = server.transport().connect(events);
    await settle();
    server.current?.silence();
    server.current?.ping();
    let answered = false;
    void link.send(message('x', 1)).then(() => {
      answered = true;
    });
    await settle();
    expect([seen, answered, server.current?.pendingSends.length]).toEqual([['open'], false, 1]);
  });

  it('is a real transport for an app: a worker-style echo round trip without recording', async () => {
    const server = createMemoryServer({
      onMessage: (message) => server.publish('replies', { echo: message.data }),
    });
    const conn = createConnection({ transport: server.transport() });
    const replies: unknown[] = [];
    conn.on('message', (data) => replies.push(data));
    conn.watch('replies');
    await conn.send('ping');
    await settle();
    expect(replies).toEqual([{ echo: 'ping' }]);
    expect(server.received).toEqual([]);
    conn.close();
    expect(server.live).toEqual([]);
  });
});

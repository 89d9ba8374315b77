import { afterEach } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createMemoryServer, type MemoryServerOptions } from '../../adapters/memory.js';
import type { ConnectionError, DeliveryError } from '../../machines/errors.js';
import { type Connection, type ConnectionOptions, createConnection } from '../../src/index.js';
import type { ConnectionState } from '../../src/types.js';
import { settle } from './settle.js';

const opened: Connection[] = [];
afterEach(() => {
  for (const conn of opened.splice(0)) conn.close();
});

export interface Harness {
  clock: SimulatedClock;
  server: ReturnType<typeof createMemoryServer>;
  conn: Connection;
  states: ConnectionState[];
  dropped: DeliveryError[];
  errors: ConnectionError[];
  messages: unknown[];
  /** Advance simulated time, then let the links report. */
  advance(ms: number): Promise<void>;
  /** Ids the server handed to its app, in order. */
  received(): string[];
  /** Ids sent on each link, in order. */
  sentOn(linkIndex: number): string[];
}

export interface HarnessOptions {
  /** Connection options, over the defaults: the server's transport, the clock, `backoff` of `BACKOFF_MS`. */
  connection?: Partial<ConnectionOptions>;
  /** Memory server options, over the defaults: `record`, `heartbeatMs: 0`, the clock. */
  server?: MemoryServerOptions;
  /** Sends the transport keeps in flight at once. Default 1. */
  maxInFlight?: number;
}

export const BACKOFF_MS = 100;

/**
 * A connection over a memory server, both on one simulated clock. The server sends no
 * heartbeats and the backoff is fixed, so the only time that passes is what a test
 * advances. The connection is closed after the test.
 */
export function harness({
  connection = {},
  server: serverOptions = {},
  maxInFlight = 1,
}: HarnessOptions = {}): Harness {
  const clock = new SimulatedClock();
  // Sessions expire by the simulated clock too.
  const server = createMemoryServer({
    record: true,
    heartbeatMs: 0,
    clock,
    now: () => clock.now(),
    ...serverOptions,
  });
  const conn = createConnection({
    transport: server.transport({ maxInFlight }),
    clock,
    backoff: () => BACKOFF_MS,
    ...connection,
  });
  opened.push(conn);
  const h: Harness = {
    clock,
    server,
    conn,
    states: [],
    dropped: [],
    errors: [],
    messages: [],
    async advance(ms) {
      clock.increment(ms);
      await settle();
    },
    received: () => server.received.map((m) => m.id),
    sentOn: (index) =>
      (server.links[index]?.log ?? []).flatMap((r) => (r.kind === 'send' ? [r.message.id] : [])),
  };
  conn.on('state', (to) => h.states.push(to));
  conn.on('dropped', (e) => h.dropped.push(e));
  conn.on('error', (e) => h.errors.push(e));
  conn.on('message', (d) => h.messages.push(d));
  return h;
}

/** Send `count` messages with ids m1, m2, …; their promises are returned (never unhandled). */
export function sendMany(conn: Connection, count: number, from = 1) {
  return Array.from({ length: count }, (_, i) =>
    conn.send(`data-${from + i}`, { id: `m${from + i}` }),
  );
}

/** Resolves to 'ok' or the rejection reason, so a test can look at a promise without awaiting it. */
export function outcome(promise: Promise<unknown>): { value: string | undefined } {
  const box: { value: string | undefined } = { value: undefined };
  promise.then(
    () => {
      box.value = 'ok';
    },
    (error: DeliveryError) => {
      box.value = error.reason ?? String(error);
    },
  );
  return box;
}

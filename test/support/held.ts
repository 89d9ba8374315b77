import { SimulatedClock } from 'xstate';
import { createMemoryServer } from '../../adapters/memory.js';
import { type ConnectionOptions, createConnection } from '../../src/connection.js';
import { type Tracker, type TrackOptions, track } from './invariants.js';

export interface HeldOptions extends TrackOptions {
  /** Connection options besides the transport and the clock. */
  connection: Omit<ConnectionOptions, 'transport' | 'clock'>;
  /** Sends the transport keeps in flight at once. */
  maxInFlight: number;
  /** The server's dedup window of message ids (0: every resend reaches its app again). */
  dedupWindow: number;
}

/**
 * A connection over a memory server that holds every link, resume and send until the
 * runner answers it, both on one `SimulatedClock`, tracked for the invariants: what the
 * simulation and the model runner each play their steps on.
 */
export function heldConnection(options: HeldOptions): Tracker {
  const clock = new SimulatedClock();
  const server = createMemoryServer({
    record: true,
    heartbeatMs: 0,
    dedupWindow: options.dedupWindow,
    behaviour: { connect: 'hold', resume: 'hold', send: 'hold' },
  });
  const conn = createConnection({
    ...options.connection,
    transport: server.transport({ maxInFlight: options.maxInFlight }),
    clock,
  });
  return track(conn, server, clock, options);
}

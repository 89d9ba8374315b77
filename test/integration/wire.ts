/** Shared helpers for the integration tests over loopback. */
import { afterEach } from 'vitest';
import { type Connection, type ConnectionOptions, createConnection } from '../../src/index.js';
import { createServer, type ServerOptions } from '../../src/server/index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A reference server on 127.0.0.1, port 0, closed after the test. */
export async function startServer(options: ServerOptions = {}) {
  const received: Array<{ id: string; data: unknown }> = [];
  const server = createServer({
    heartbeatMs: 50,
    ...options,
    onMessage: (message, connection) => {
      options.onMessage?.(message, connection);
      received.push(message);
    },
  });
  const listening = await server.listen();
  cleanups.push(() => listening.close());
  return { server, listening, received };
}

export function connect(options: ConnectionOptions): Connection {
  const conn = createConnection({ backoff: () => 5, heartbeatTimeoutMs: 400, ...options });
  cleanups.push(() => conn.close());
  return conn;
}

/** Wait until `predicate` holds, checking on every event-loop turn; fails after `ms`. */
export async function until(predicate: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export function recordStates(conn: Connection): string[] {
  const states: string[] = [];
  conn.on('state', (to) => states.push(to));
  return states;
}

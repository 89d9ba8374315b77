/**
 * The soak app's effect with `--redis`: exactly once end to end, by committing the effect
 * and the serial in one transaction (scale-out.md §2; the example docs/scale-out.md gives).
 *
 * Why the app must: the Redis store takes a message in two steps — claim the serial with a
 * lease, hand it to `onMessage`, then commit `taken`. A process that dies after the app's
 * effect but before the commit (or whose app outlasts `leaseMs`) leaves the serial
 * uncommitted, and once the lease expires another process hands the same message over
 * again. The store cannot close that window; the app can, by keeping its own record of
 * the highest serial it applied per session *in the same transaction as the effect*:
 * both happen or neither does, and a second hand-over finds the serial already applied
 * and does nothing (but still accepts: the effect is there). Here the effect is one line
 * appended to a list, and the transaction one Lua script (Redis runs a script atomically);
 * in SQL it is one transaction that upserts `(session, serial)` and writes the effect.
 *
 * Serials of a session only grow and a session's messages reach the app one at a time,
 * in order, so "highest applied" is enough: no set of serials to keep. A real app keys it
 * by (principal, session), as the server does, and expires it with the session (the soak
 * connects without `authorize`, so every principal is undefined).
 */
import { createClient } from 'redis';
import type { ServerMessage } from '../../src/server/index.js';

/** The app's own keys, outside the store's prefix. */
export const APP_KEYS = {
  /** Hash: session → the highest serial whose effect was applied. */
  applied: 'soak-app:applied',
  /** List: one line per effect applied, `c n serial session node`, in the order applied. */
  arrivals: 'soak-app:arrivals',
  /** Counter: hand-overs of a serial already applied (the crash window, closed). */
  absorbed: 'soak-app:absorbed',
} as const;

/** KEYS applied, arrivals, absorbed; ARGV session, serial, line. 1 applied, 0 absorbed. */
export const APPLY = `
local applied = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= applied then
  redis.call('INCR', KEYS[3])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[3])
return 1
`;

/**
 * `onMessage` for a soak node: applies `{ c, n }` through `APPLY` on the app's own Redis
 * client. The promise it returns is awaited by the server before the ack, so a message
 * confirmed is one whose effect is in Redis.
 */
export async function transactionalApp(url: string, node: string) {
  const client = createClient({ url });
  // node-redis emits `error` on each failed reconnection; unheard, it would end the process.
  client.on('error', (error: unknown) => console.error(`soak app ${node}: redis: ${error}`));
  await client.connect();
  return async ({ data, session, serial }: ServerMessage): Promise<void> => {
    // Every soak client speaks protocol v2; without a serial there is nothing to dedupe by.
    if (session === undefined || serial === undefined)
      throw new Error('the soak app takes v2 messages only');
    const { c, n } = data as { c: number; n: number };
    await client.eval(APPLY, {
      keys: [APP_KEYS.applied, APP_KEYS.arrivals, APP_KEYS.absorbed],
      arguments: [session, String(serial), `${c} ${n} ${serial} ${session} ${node}`],
    });
  };
}

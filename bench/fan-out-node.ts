/**
 * One server process of the fan-out figure (`bench/redis.ts`): the built reference server
 * on 127.0.0.1, on `redisStore` when given a Redis URL and prefix, else on its own memory.
 * It publishes when the parent asks and reports the seq it got, so the parent can check
 * the log counted every publish once. Bundled into one ESM file and run on plain `node`
 * (`bundleChild`), as the cluster tests' children are. Ends when the parent's IPC closes.
 *
 * argv: [redisUrl prefix]
 */
import { redisStore } from '../dist/redis.js';
import { createServer } from '../dist/server.js';

const [redisUrl, prefix] = process.argv.slice(2);
const tell = (message: unknown) => process.send?.(message);
const onError = (error: unknown) => tell({ type: 'error', error: String(error) });

// Heartbeats every minute: a ping landing mid-measurement would be noise, not fan-out.
const server =
  redisUrl === undefined
    ? createServer({ heartbeatMs: 60_000, onError })
    : createServer({
        heartbeatMs: 60_000,
        onError,
        store: redisStore({ url: redisUrl, prefix, onError }),
      });
const listening = await server.listen(0, '127.0.0.1');
tell({ type: 'listening', wsUrl: listening.wsUrl });

process.on('message', async (message: { type?: string; stream?: string; data?: unknown }) => {
  if (message.type !== 'publish' || message.stream === undefined) return;
  try {
    const event = await server.publish(message.stream, message.data);
    tell({ type: 'published', seq: event.seq });
  } catch (error) {
    onError(error);
  }
});
process.on('disconnect', () => process.exit(0));

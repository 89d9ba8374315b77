/**
 * One server process of the cluster tests: the reference server on 127.0.0.1, whose app
 * reports every message it is handed to the parent (with this process's name), and which
 * publishes on request. With a Redis URL it runs on `redisStore` (shared logs, sessions
 * and fan-out); without, on its own memory. Ends when the parent's IPC channel closes.
 *
 * argv: name [port] [redisUrl prefix]. An app handed a message whose data has `dropLink`
 * drops the link it came on before answering: the ack is lost, the message is taken.
 * With HOLDFAST_ARRIVALS set, the app also appends each message to that file with a
 * synchronous write, which reaches the kernel before the app returns and so survives a
 * SIGKILL that an IPC report might not.
 */
import { openSync, writeSync } from 'node:fs';
import { redisStore } from '../../src/redis/index.js';
import { createServer, type ServerConnection } from '../../src/server/index.js';

const [name = 'node', port = '0', redisUrl, prefix] = process.argv.slice(2);
const tell = (message: unknown) => process.send?.(message);

const arrivals =
  process.env.HOLDFAST_ARRIVALS === undefined
    ? undefined
    : openSync(process.env.HOLDFAST_ARRIVALS, 'a');

const onMessage = (
  { id, data, session, serial }: { id: string; data: unknown; session?: string; serial?: number },
  connection: ServerConnection,
) => {
  if (arrivals !== undefined)
    writeSync(arrivals, `${JSON.stringify({ node: name, id, session, serial })}\n`);
  tell({ type: 'handed', node: name, id, data, session, serial });
  if ((data as { dropLink?: boolean } | null)?.dropLink === true) connection.drop();
};
const onError = (error: unknown, context?: { during: string }) =>
  tell({ type: 'error', node: name, during: context?.during ?? 'store', error: String(error) });

const store =
  redisUrl === undefined
    ? undefined
    : redisStore({ url: redisUrl, prefix, onError, leaseMs: 2000 });
const server =
  store === undefined
    ? createServer({ heartbeatMs: 5_000, onMessage, onError })
    : createServer({ heartbeatMs: 5_000, onMessage, onError, store });
const listening = await server.listen(Number(port), '127.0.0.1');
tell({ type: 'listening', port: Number(new URL(listening.url).port) });

process.on('message', async (message: { type: string; stream?: string; data?: unknown }) => {
  if (message.type === 'drop-all') return server.faults.dropAll();
  if (message.type !== 'publish' || message.stream === undefined) return;
  const event = await server.publish(message.stream, message.data);
  tell({ type: 'published', node: name, stream: event.stream, seq: event.seq });
});
process.on('disconnect', () => process.exit(0));

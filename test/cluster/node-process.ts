/**
 * One server process of the cluster tests: the reference server on 127.0.0.1, port 0,
 * whose app reports every message it is handed to the parent (with this process's name),
 * and which publishes on request. Ends when the parent's IPC channel closes.
 *
 * argv: name
 */
import { createServer } from '../../src/server/index.js';

const name = process.argv[2] ?? 'node';
const tell = (message: unknown) => process.send?.(message);

const server = createServer({
  heartbeatMs: 5_000,
  onMessage: ({ id, data }) => tell({ type: 'handed', node: name, id, data }),
});
const listening = await server.listen(0, '127.0.0.1');
tell({ type: 'listening', port: Number(new URL(listening.url).port) });

process.on('message', (message: { type: string; stream?: string; data?: unknown }) => {
  if (message.type === 'publish' && message.stream !== undefined)
    server.publish(message.stream, message.data);
});
process.on('disconnect', () => process.exit(0));

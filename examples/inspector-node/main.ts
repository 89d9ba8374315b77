/**
 * A Node process whose holdfast connection streams to the Stately inspector:
 *
 *   npx tsx examples/inspector-node/main.ts [--port 8080]    (--port 0: any free port)
 *
 * (The chat app machine of `examples/embedded.ts`, with its connection as a child, shows
 * the same way: `createActor(chatMachine, { input, inspect: inspector.inspect })`; tested
 * in `test/examples/inspector-node.test.ts`.)
 *
 * then open the printed URL in a browser. An echo server in the same process answers a
 * message a second, and drops the link every five seconds so there is something to see.
 * Ctrl-C closes everything and exits.
 */
import { createConnection } from '../../src/index.js';
import { createMemoryServer } from '../../src/memory.js';
import { freePort, startInspector } from './inspector.js';

const flag = process.argv.indexOf('--port');
const asked = flag === -1 ? 8080 : Number(process.argv[flag + 1]);
const inspector = startInspector(asked === 0 ? await freePort() : asked);

const server = createMemoryServer({ onMessage: (message) => server.publish('echo', message.data) });
const conn = createConnection({ transport: server.transport(), inspect: inspector.inspect });
conn.watch('echo');
let count = 0;
const sending = setInterval(() => void conn.send({ count: ++count }).catch(() => {}), 1000);
// A lost link: reconnecting, resuming `echo`, flushing what waited, open again.
const dropping = setInterval(() => server.current?.drop(), 5000);

console.log(`inspector: ${inspector.url} (open it in a browser; Ctrl-C to stop)`);
process.once('SIGINT', () => {
  clearInterval(sending);
  clearInterval(dropping);
  conn.close();
  inspector.stop();
  // An inspector tab still open keeps its socket, and with it this process: leave anyway.
  process.exit(0);
});

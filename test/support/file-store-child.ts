/**
 * A child process for the file store's tests (test/file-store-*.test.ts), and the batches
 * it writes. Run as `node child.mjs <mode> <folder>` (the tests bundle it with esbuild once:
 * a plain node child starts in ~0.1 s, a tsx one in ~0.3 s):
 *
 * - `hold`: open the store, print `open` (or `busy`), then hold it until killed.
 * - `append`: open the store, print `open <reserved>`, then write `batchFor(n)` for n = the
 *   reservation + 1, + 2, … forever, printing `wrote <n>` (synchronously) after each write
 *   resolved. Compaction is tuned down to 32 KiB so that kills land in it too.
 * - `fill`: under a file size limit (`ulimit -f`): write batch 1, then a batch too big for
 *   the limit (printing `rejected <code>`), then batch 2, then close.
 */
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileStore, defaultTuning } from '../../adapters/file-store.js';
import type { OutboxStore, StoreBatch, StoredMessage, StoredOutbox } from '../../adapters/store.js';

export const SESSION = 'child-session-0123456789';

/** Message n: its size varies from 0 to 3 kB of padding, so that some writes span pages. */
export function messageFor(n: number): StoredMessage {
  const pad = 'x'.repeat((n * 7919) % 3000);
  return {
    id: `m${n}`,
    serial: n,
    json: JSON.stringify({ n, pad }),
    retry: n % 5 !== 0,
    sent: n % 2 === 0,
  };
}

/** Batch n: reserve n, put message n, remove message n − 3, move the stream to n. */
export function batchFor(n: number): StoreBatch {
  return {
    ...(n === 1 ? { session: SESSION } : {}),
    reserved: n,
    put: [messageFor(n)],
    ...(n > 3 ? { remove: [`m${n - 3}`] } : {}),
    positions: [{ stream: 'chat', seq: n, epoch: 'e1' }],
  };
}

/** What the store holds after batches 1 … n (messages by serial, no problems). */
export function expectedAfter(n: number): StoredOutbox {
  const messages: StoredMessage[] = [];
  for (let k = Math.max(1, n - 2); k <= n; k++) messages.push(messageFor(k));
  return {
    session: n >= 1 ? SESSION : undefined,
    reserved: n,
    messages,
    positions: n >= 1 ? [{ stream: 'chat', seq: n, epoch: 'e1' }] : [],
    problems: [],
  };
}

const say = (line: string) => writeSync(1, `${line}\n`);

async function openStore(store: OutboxStore): Promise<StoredOutbox> {
  for (;;) {
    const opening = await store.open();
    if (opening.status === 'open') return opening.outbox;
    say('busy');
    await opening.released;
  }
}

async function main(mode: string, path: string): Promise<void> {
  const store = createFileStore(path, { ...defaultTuning, compactAtBytes: 32 * 1024 });
  const outbox = await openStore(store);
  if (mode === 'hold') {
    say('open');
    setInterval(() => {}, 60_000);
  } else if (mode === 'append') {
    say(`open ${outbox.reserved}`);
    for (let n = outbox.reserved + 1; ; n++) {
      await store.write(batchFor(n));
      say(`wrote ${n}`);
    }
  } else if (mode === 'fill') {
    await store.write(batchFor(1));
    say('wrote 1');
    const big = { ...messageFor(1000), id: 'big', json: JSON.stringify('y'.repeat(20_000)) };
    await store.write({ reserved: 1000, put: [big] }).then(
      () => say('wrote big'),
      (error: NodeJS.ErrnoException) =>
        say(
          `rejected ${error.cause ? (error.cause as NodeJS.ErrnoException).code : error.message}`,
        ),
    );
    await store.write(batchFor(2));
    say('wrote 2');
    await store.close();
  } else throw new Error(`unknown mode ${mode}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [mode = '', path = ''] = process.argv.slice(2);
  main(mode, path).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

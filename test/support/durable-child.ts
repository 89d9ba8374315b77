/**
 * The client process of the durable SIGKILL test (test/durable/kill.test.ts, durable.md §4):
 * a connection over WebSocket with a file store, sending the numbers `{ n }` in order, to be
 * SIGKILLed at any moment and started again on the same folder. The test bundles it once
 * with esbuild and runs `node child.mjs <mode> <wsUrl> <folder> <seed> [count]`:
 *
 * - `run`: send n = from, from + 1, … until killed.
 * - `finish`: send `count` numbers from `from`, wait until every send and every restored
 *   message settled, print `done`, close the connection and exit.
 *
 * **Where it goes on.** The only thing that may be lost in a kill is a number whose save
 * never finished; the next run must use that number again, and must never use again one the
 * server may have. After a restart the store holds every saved number that was not settled
 * (`restored`), and `<folder>/removed` the highest number whose removal from the store was
 * ever handed to it (written, by an atomic rename, before that write starts: so it is at
 * least the highest number the store removed). Numbers are sent, saved and confirmed in
 * order, so the next number is max(removed, highest restored) + 1: one above the highest
 * number saved. Any message the server got but the store never held (D1 broken) is
 * therefore sent again as a new message, and the server's app sees its number twice.
 *
 * The store is wrapped only to watch it: it says `write` before a batch goes to the real
 * store and `wrote` (with the numbers put) once that batch is durable, and in some runs it
 * waits up to 3 ms before a write, like a slow disk. Everything it prints is one JSON line
 * (`ChildLine`), written synchronously, so what a killed child said is all there.
 */
import { renameSync, writeFileSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createFileStore, defaultTuning } from '../../adapters/file-store.js';
import type { OutboxStore, StoreBatch } from '../../adapters/store.js';
import { outboxStore } from '../../src/durable.js';
import { createConnection, isDeliveryError } from '../../src/index.js';
import { webSocketTransport } from '../../src/websocket.js';

/** What the child prints, one JSON object per line. */
export type ChildLine =
  /** The `restored` event: the numbers it named, in its order. */
  | { t: 'restored'; ns: number[] }
  /** Where this run goes on, from the removal record and the restored messages. */
  | { t: 'start'; from: number; removed: number }
  /** A batch handed to the real store (numbers put and removed). */
  | { t: 'write'; put: number[]; remove: number[] }
  /** That batch is durable. */
  | { t: 'wrote'; put: number[] }
  /** A restored message's `settled` resolved (`ok`) or rejected (`reason`). */
  | { t: 'settled'; n: number; ok: boolean; reason?: string }
  /** A send of this run rejected. */
  | { t: 'failed'; n: number; reason: string }
  /** A connection `error` event. */
  | { t: 'error'; kind: string; message: string }
  /** `finish`: every number up to `last` was confirmed, and every restored message settled. */
  | { t: 'done'; last: number };

/** The folder of the store, and the removal record next to it, in the test's folder. */
export const storeFolder = (folder: string) => join(folder, 'outbox');
const removedFile = (folder: string) => join(folder, 'removed');

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const say = (line: ChildLine) => writeSync(1, `${JSON.stringify(line)}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Message ids are `m<n>`: a batch names its numbers by id. */
const idOf = (n: number) => `m${n}`;
const numberOfId = (id: string) => (/^m\d+$/.test(id) ? Number(id.slice(1)) : Number.NaN);
const numberOf = (data: unknown) =>
  typeof data === 'object' && data !== null && typeof (data as { n?: unknown }).n === 'number'
    ? (data as { n: number }).n
    : Number.NaN;
const reasonOf = (error: unknown) => (isDeliveryError(error) ? error.reason : String(error));

/** The removal record: the highest number ever handed to the store to remove (0: none). */
async function readRemoved(folder: string): Promise<number> {
  const text = await readFile(removedFile(folder), 'utf8').catch(() => '0');
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`the removal record is not a number: ${text}`);
  return n;
}

/** The store, watched: the removal record, `write`/`wrote` lines, and a slow disk. */
function watched(
  store: OutboxStore,
  folder: string,
  removed: number,
  random: () => number,
): OutboxStore {
  const slow = random() < 0.5;
  return {
    open: () => store.open(),
    close: () => store.close(),
    async write(batch: StoreBatch) {
      const put = (batch.put ?? []).map((m) => numberOfId(m.id));
      const remove = (batch.remove ?? []).map(numberOfId);
      const top = Math.max(removed, ...remove.filter(Number.isSafeInteger));
      if (top > removed) {
        // Atomic against a kill: the record is the old number or the new one, never torn.
        writeFileSync(`${removedFile(folder)}.tmp`, String(top));
        renameSync(`${removedFile(folder)}.tmp`, removedFile(folder));
        removed = top;
      }
      if (slow && random() < 0.5) await sleep(random() * 3);
      say({ t: 'write', put, remove });
      await store.write(batch);
      say({ t: 'wrote', put });
    },
  };
}

async function main(mode: string, url: string, folder: string, seed: number, count: number) {
  const random = seeded(seed);
  const removed = await readRemoved(folder);
  const store = createFileStore(storeFolder(folder), {
    ...defaultTuning,
    // Compactions every few runs, so that kills land in them too.
    compactAtBytes: 32 * 1024,
  });
  const conn = createConnection({
    transport: webSocketTransport({ url, WebSocket }),
    store: outboxStore(watched(store, folder, removed, random)),
    backoff: () => 5,
  });
  let allRestoredSettled: Promise<unknown> = new Promise(() => {});
  const restored = new Promise<number>((resolveRestored, reject) => {
    conn.on(
      'restored',
      (messages: ReadonlyArray<{ id: string; data: unknown; settled: Promise<void> }>) => {
        const ns = messages.map((m) => numberOf(m.data));
        say({ t: 'restored', ns });
        const settling = messages.map((m, i) =>
          m.settled.then(
            () => say({ t: 'settled', n: ns[i] ?? Number.NaN, ok: true }),
            (error: unknown) =>
              say({ t: 'settled', n: ns[i] ?? Number.NaN, ok: false, reason: reasonOf(error) }),
          ),
        );
        if (ns.some((n) => !Number.isSafeInteger(n))) reject(new Error(`restored ${ns}`));
        else resolveRestored(Math.max(0, ...ns));
        allRestoredSettled = Promise.all(settling);
      },
    );
  });
  conn.on('error', (error) => say({ t: 'error', kind: error.kind, message: error.message }));

  const from = Math.max(removed, await restored) + 1;
  say({ t: 'start', from, removed });
  const last = mode === 'finish' ? from + count - 1 : Number.POSITIVE_INFINITY;
  const sends: Promise<void>[] = [];
  let unsettled = 0;
  const send = (n: number) => {
    unsettled++;
    const sent = conn.send({ n }, { id: idOf(n) }).then(
      () => {
        unsettled--;
      },
      (error: unknown) => {
        unsettled--;
        say({ t: 'failed', n, reason: reasonOf(error) });
      },
    );
    if (mode === 'finish') sends.push(sent);
    return sent;
  };
  // Bursts of 1–8 sends in one tick, then: wait for the burst's last confirmation, or one
  // turn of the event loop, or up to 3 ms, so that kills find sends queued, being saved,
  // on the wire and confirmed but not yet removed.
  for (let n = from; n <= last; ) {
    const burst = 1 + Math.floor(random() * 8);
    let latest: Promise<void> = Promise.resolve();
    for (let i = 0; i < burst && n <= last; i++) latest = send(n++);
    const pause = random();
    if (pause < 0.35 || unsettled > 200) await latest;
    else if (pause < 0.7) await new Promise((done) => setImmediate(done));
    else await sleep(random() * 3);
  }
  await Promise.all(sends);
  await allRestoredSettled;
  say({ t: 'done', last });
  conn.close();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [mode = '', url = '', folder = '', seed = '0', count = '0'] = process.argv.slice(2);
  main(mode, url, folder, Number(seed), Number(count)).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

/**
 * `fileStore`'s compaction (docs/durability.md): the log stays within its bound and keeps
 * the state; a crash before or after the rename that commits it reads correctly.
 */
import {
  appendFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileStore, defaultTuning, fileStore } from '../adapters/file-store.js';
import { batchFor, expectedAfter } from './support/file-store-child.js';
import { message, opened } from './support/store-cases.js';

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});
async function folder(): Promise<{ path: string; log: string }> {
  const root = await mkdtemp(join(tmpdir(), 'holdfast-file-store-'));
  folders.push(root);
  const path = join(root, 'deep', 'outbox');
  await mkdir(path, { recursive: true });
  return { path, log: join(path, 'outbox.log') };
}

const HEADER = '{"holdfast":"outbox","v":1}\n';
/** A record line as the format says, checksummed here independently of the store. */
function record(batch: unknown, v = 1): string {
  const body = JSON.stringify(batch);
  const crc = crc32(Buffer.from(body)).toString(16).padStart(8, '0');
  return `{"v":${v},"crc":"${crc}","batch":${body}}\n`;
}

/** Write batches 1 … n with a fresh store, and close it. */
async function written(path: string, n: number): Promise<void> {
  const store = fileStore({ path });
  await opened(store);
  for (let k = 1; k <= n; k++) await store.write(batchFor(k));
  await store.close();
}

async function reopen(path: string, tuning = defaultTuning) {
  const store = createFileStore(path, tuning);
  const outbox = await opened(store);
  await store.close();
  return outbox;
}

describe('fileStore: compaction', () => {
  it('keeps the state and the log small: past 1 MiB and 4× the state, the log is rewritten', async () => {
    const { path, log } = await folder();
    const store = fileStore({ path });
    await opened(store);
    let largest = 0;
    for (let n = 1; n <= 400; n++) {
      const json = JSON.stringify({ n, text: 'w'.repeat(4000) });
      await store.write({
        reserved: n,
        put: [message(`m${n}`, n, { json })],
        remove: [`m${n - 1}`],
      });
      largest = Math.max(largest, (await stat(log)).size);
    }
    await store.close();
    expect(largest).toBeGreaterThan(1024 * 1024 * 0.9);
    expect(largest).toBeLessThan(1024 * 1024 + 5000);
    expect((await stat(log)).size).toBeLessThan(1024 * 1024 * 0.7); // compacted at least once
    const outbox = await reopen(path);
    expect(outbox.reserved).toBe(400);
    expect(outbox.messages.map((m) => m.id)).toEqual(['m400']);
    expect(outbox.problems).toEqual([]);
  });

  it('a compacted log keeps every message, in records of about one chunk each', async () => {
    const { path, log } = await folder();
    const tuning = { ...defaultTuning, snapshotChunkBytes: 2048 };
    const store = createFileStore(path, tuning);
    await opened(store);
    const messages = Array.from({ length: 60 }, (_, i) =>
      message(`m${i + 1}`, i + 1, { json: JSON.stringify('v'.repeat(400 + i)) }),
    );
    for (const [i, m] of messages.entries()) await store.write({ reserved: i + 1, put: [m] });
    await store.write({ remove: ['m1'], positions: [{ stream: 's', seq: 3 }] });
    await store.close();
    // A log that is not clean is compacted when opened.
    await appendFile(log, 'junk\n');
    expect((await reopen(path, tuning)).problems).toHaveLength(1);
    const lines = (await readFile(log, 'utf8')).split('\n').slice(1, -1);
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.length).toBeLessThan(25);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThan(2048 + 600);
    expect(await reopen(path, tuning)).toEqual({
      session: undefined,
      reserved: 60,
      messages: messages.slice(1),
      positions: [{ stream: 's', seq: 3 }],
      problems: [],
    });
  });

  it('a crash before the rename leaves the old log in force: the new file is never read', async () => {
    const { path, log } = await folder();
    await written(path, 3);
    const temp = join(path, 'outbox.log.tmp');
    // Cut short while written…
    await writeFile(temp, `${HEADER}${record(batchFor(9)).slice(0, 40)}`);
    expect(await reopen(path)).toEqual(expectedAfter(3));
    expect(await readdir(path)).not.toContain('outbox.log.tmp');
    // …or whole, but not renamed yet.
    await writeFile(temp, `${HEADER}${record({ reserved: 99, put: [message('ghost', 99)] })}`);
    expect(await reopen(path)).toEqual(expectedAfter(3));
    expect(await readdir(path)).not.toContain('outbox.log.tmp');
    // After the rename, the new log is the log.
    await writeFile(log, `${HEADER}${record({ reserved: 99, put: [message('ghost', 99)] })}`);
    expect((await reopen(path)).messages.map((m) => m.id)).toEqual(['ghost']);
  });
});

/**
 * `fileStore`'s compaction (docs/durability.md): the log stays within its bound and keeps
 * the state; a crash before or after the rename that commits it reads correctly.
 */
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileStore, defaultTuning, fileStore } from '../adapters/file-store.js';
import { batchFor, expectedAfter } from './support/file-store-child.js';
import { folder, HEADER, record, reopen, written } from './support/file-store-files.js';
import { message, opened } from './support/store-cases.js';

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

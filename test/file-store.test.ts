/**
 * `fileStore`'s log (docs/durability.md): its format, reading back what is damaged — a torn
 * last record, a corrupt line, a future version, a wrong shape, an over-long line — with
 * every good record kept and every bad one named. Compaction: file-store-compaction.test.ts.
 */
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileStore, defaultTuning, fileStore } from '../adapters/file-store.js';
import type { StoreBatch } from '../adapters/store.js';
import { batchFor, expectedAfter, messageFor } from './support/file-store-child.js';
import { folder, HEADER, record, reopen, written } from './support/file-store-files.js';
import { message, opened } from './support/store-cases.js';

/** What a store says when it skipped a line that may have held a reservation. */
const dropped = (log: string) =>
  `${log}: a skipped line may have raised the serial reservation, so the session is dropped: its messages go out under a new one, and no serial is used twice.`;
/** What batches 1 … n leave, read back after a skipped line: the same, without the session. */
const unsessioned = (n: number) => ({ ...expectedAfter(n), session: undefined });

describe('fileStore: the log', () => {
  it('refuses a path that is not a string; creates its folder, parents too', async () => {
    expect(() => fileStore({ path: '' })).toThrow(TypeError);
    expect(() => fileStore(undefined as never)).toThrow(/path/);
    const { path } = await folder();
    await rm(join(path, '..'), { recursive: true });
    await written(path, 1);
    expect((await readdir(path)).sort()).toEqual(['lock.2', 'outbox.log']);
  });

  it('is a header, then one line per batch whose checksum covers the batch exactly', async () => {
    const { path, log } = await folder();
    await written(path, 2);
    const [header, ...lines] = (await readFile(log, 'utf8')).split('\n');
    expect(`${header}\n`).toBe(HEADER);
    expect(lines).toEqual([record(batchFor(1)).trim(), record(batchFor(2)).trim(), '']);
  });

  it('a torn last record: the batches before it are kept, it is named, and the log is mended', async () => {
    const { path, log } = await folder();
    await written(path, 3);
    const text = await readFile(log, 'utf8');
    const lastStart = Buffer.byteLength(text.slice(0, text.lastIndexOf('\n', text.length - 2) + 1));
    await truncate(log, (await stat(log)).size - 10);
    const outbox = await reopen(path);
    expect(outbox.problems).toEqual([
      `${log} line 4 (byte ${lastStart}): cut short, with no end of line (a write that never finished); skipped.`,
    ]);
    expect({ ...outbox, problems: [] }).toEqual(expectedAfter(2));
    // Rewritten whole at open: the next writes follow a clean line, and nothing is reported twice.
    const store = fileStore({ path });
    await opened(store);
    await store.write(batchFor(3));
    await store.close();
    expect(await reopen(path)).toEqual(expectedAfter(3));
  });

  it('a corrupt line in the middle is named by its checksum; the lines around it apply, the session is dropped', async () => {
    const { path, log } = await folder();
    await written(path, 3);
    const lines = (await readFile(log, 'utf8')).split('\n');
    const at = Buffer.byteLength(`${lines[0]}\n${lines[1]}\n`);
    lines[2] = (lines[2] as string).replace('"serial":2', '"serial":7');
    await writeFile(log, lines.join('\n'));
    const outbox = await reopen(path);
    expect(outbox.problems).toEqual([
      `${log} line 3 (byte ${at}): its checksum does not match (a corrupt record); skipped.`,
      dropped(log),
    ]);
    // The line lost could have raised the reservation above serials the connection then
    // used: under the old session, a new serial might repeat one. A new session cannot.
    expect(outbox.session).toBeUndefined();
    expect(outbox.reserved).toBe(3);
    expect(outbox.messages.map((m) => m.id)).toEqual(['m1', 'm3']);
  });

  it('names lines that are no record, and records of a future version, and keeps the rest', async () => {
    const { path, log } = await folder();
    const future = record(
      { put: [{ id: 'a', serial: 1, json: '1', retry: true, sent: false, ttl: 5 }] },
      2,
    );
    await writeFile(
      log,
      [
        HEADER,
        record(batchFor(1)),
        'garbage\n',
        '\n',
        future,
        '{"v":1,"crc":"00000000"}\n',
        record(batchFor(2)),
      ].join(''),
    );
    const problems = (await reopen(path)).problems.map((p) => p.replace(/ \(byte \d+\)/, ''));
    expect(problems).toEqual([
      `${log} line 3: not a record of this format (a corrupt line); skipped.`,
      `${log} line 4: not a record of this format (a corrupt line); skipped.`,
      `${log} line 5: a record of format version 2, newer than this holdfast reads (1); skipped.`,
      `${log} line 6: not a record of this format (a corrupt line); skipped.`,
      dropped(log),
    ]);
    expect(await reopen(path)).toEqual(unsessioned(2)); // rewritten: reported once
  });

  it('a log from a future version is not opened, and left untouched', async () => {
    const { path, log } = await folder();
    await written(path, 0);
    const text = '{"holdfast":"outbox","v":2}\n{"v":2}\n';
    await writeFile(log, text);
    await expect(fileStore({ path }).open()).rejects.toThrow(
      /format version 2, newer than this holdfast reads \(1\); left as it is/,
    );
    expect(await readFile(log, 'utf8')).toBe(text);
    // The lock was let go: the next opener is refused the same way, not told busy.
    await expect(fileStore({ path }).open()).rejects.toThrow(/format version 2/);
  });

  it('names each record of the wrong shape by its field, and keeps the good ones', async () => {
    const { path, log } = await folder();
    const m = message('a', 1);
    const shape = (why: string) => `a record of the wrong shape: ${why}`;
    const bad: Array<[unknown, string]> = [
      [[], 'its batch is not a JSON object'],
      [{ put: {} }, shape('put is not a list')],
      [{ put: [{ ...m, serial: 0 }] }, shape('put[0].serial is not an integer ≥ 1')],
      [{ put: [m, { ...m, serial: 1.5 }] }, shape('put[1].serial is not an integer ≥ 1')],
      [{ put: [{ ...m, id: '' }] }, shape('put[0].id is not an id of 1–256 characters')],
      [
        { put: [{ ...m, id: 'x'.repeat(257) }] },
        shape('put[0].id is not an id of 1–256 characters'),
      ],
      [{ put: [{ ...m, json: {} }] }, shape('put[0].json is not a string')],
      [{ put: [{ ...m, retry: 'yes' }] }, shape('put[0].retry is not true or false')],
      [{ put: [{ ...m, sent: undefined }] }, shape('put[0].sent is not true or false')],
      [{ put: [{ ...m, extra: 1 }] }, shape('put[0] has an unknown field "extra"')],
      [{ put: [null] }, shape('put[0] is not an object')],
      [{ remove: [5] }, shape('remove[0] is not an id of 1–256 characters')],
      [{ positions: [{ stream: 'a', seq: -1 }] }, shape('positions[0].seq is not an integer ≥ 0')],
      [
        { positions: [{ stream: '', seq: 1 }] },
        shape('positions[0].stream is not a name of 1–256 characters'),
      ],
      [
        { positions: [{ stream: 'a', seq: 1, epoch: 'e'.repeat(65) }] },
        shape('positions[0].epoch is not a string of 1–64 characters'),
      ],
      [{ session: 'short' }, shape('session is not 16–128 characters of [A-Za-z0-9_-]')],
      [{ reserved: -1 }, shape('reserved is not an integer ≥ 0')],
      [{ reserved: 2 ** 53 }, shape('reserved is not an integer ≥ 0')],
      [{ later: true }, shape('it has an unknown field "later"')],
    ];
    const lines = [
      HEADER,
      record(batchFor(1)),
      ...bad.map(([b]) => record(b)),
      record(batchFor(2)),
    ];
    await writeFile(log, lines.join(''));
    const outbox = await reopen(path);
    expect(outbox.problems).toEqual(
      bad
        .map(([, why], i) => {
          const at = Buffer.byteLength(lines.slice(0, i + 2).join(''));
          return `${log} line ${i + 3} (byte ${at}): ${why}; skipped.`;
        })
        .concat(dropped(log)),
    );
    expect({ ...outbox, problems: [] }).toEqual(unsessioned(2));
  });

  it('skips an over-long line unread, and refuses to write a batch over the limit', async () => {
    const { path, log } = await folder();
    const tuning = { ...defaultTuning, maxRecordBytes: 4096 };
    const long = 'z'.repeat(4 * 1024 * 1024);
    const lines = [HEADER, record(batchFor(1)), record({ reserved: 2 }), `${long}\n`];
    await writeFile(log, [...lines, record({ reserved: 3 }), long].join(''));
    const outbox = await reopen(path, tuning);
    expect(outbox.problems.map((p) => p.replace(/ \(byte \d+\)/, ''))).toEqual([
      `${log} line 4: longer than 4096 bytes; skipped.`,
      `${log} line 6: cut short, with no end of line (a write that never finished); skipped.`,
      dropped(log),
    ]);
    expect(outbox.reserved).toBe(3);
    expect(outbox.messages).toEqual([messageFor(1)]);
    const store = createFileStore(path, tuning);
    await opened(store);
    const size = (await stat(log)).size;
    const big: StoreBatch = { put: [{ ...messageFor(9), json: JSON.stringify('y'.repeat(5000)) }] };
    await expect(store.write(big)).rejects.toThrow(
      /over the limit of one record \(4096\); nothing was written/,
    );
    expect((await stat(log)).size).toBe(size);
    await store.write({ reserved: 4 });
    await store.close();
    expect((await reopen(path)).reserved).toBe(4);
  });

  it('names the first 100 problems and counts the rest', async () => {
    const { path, log } = await folder();
    await writeFile(log, HEADER + 'junk\n'.repeat(1000) + record(batchFor(1)));
    const outbox = await reopen(path);
    expect(outbox.problems).toHaveLength(102);
    expect(outbox.problems.slice(100)).toEqual([
      `${log}: 900 more unreadable lines, not listed.`,
      dropped(log),
    ]);
    expect({ ...outbox, problems: [] }).toEqual(unsessioned(1));
  });

  it('reads a log without its header, and names a header that is neither header nor record', async () => {
    const { path, log } = await folder();
    await writeFile(log, record(batchFor(1)));
    expect(await reopen(path)).toEqual(expectedAfter(1));
    expect(await readFile(log, 'utf8')).toMatch(/^\{"holdfast":"outbox","v":1\}\n/);
    await writeFile(log, `{"holdfast":"outb\n${record(batchFor(1))}`);
    expect((await reopen(path)).problems).toEqual([
      `${log} line 1 (byte 0): neither the outbox header nor a record; skipped.`,
      dropped(log),
    ]);
    await writeFile(log, '');
    expect(await reopen(path)).toEqual(expectedAfter(0));
  });

  it('refuses a batch of the wrong shape, writing nothing; leaves out fields it does not know', async () => {
    const { path, log } = await folder();
    const store = fileStore({ path });
    await opened(store);
    const size = (await stat(log)).size;
    await expect(store.write({ put: [{ ...message('a', 1), serial: 0 }] })).rejects.toThrow(
      new TypeError(
        'holdfast fileStore: a batch of the wrong shape: put[0].serial is not an integer ≥ 1',
      ),
    );
    expect((await stat(log)).size).toBe(size);
    await store.write({ put: [{ ...message('a', 1), extra: true } as never], later: 1 } as never);
    await store.close();
    expect((await reopen(path)).messages).toEqual([message('a', 1)]);
  });
});

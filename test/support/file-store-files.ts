/** Temporary folders for fileStore tests, and record lines written by hand. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach } from 'vitest';
import { createFileStore, defaultTuning, fileStore } from '../../adapters/file-store.js';
import { batchFor } from './file-store-child.js';
import { opened } from './store-cases.js';

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

/** A fresh store folder (two levels deep, to prove parents are made), removed after the test. */
export async function folder(): Promise<{ path: string; log: string }> {
  const root = await mkdtemp(join(tmpdir(), 'holdfast-file-store-'));
  folders.push(root);
  const path = join(root, 'deep', 'outbox');
  await mkdir(path, { recursive: true });
  return { path, log: join(path, 'outbox.log') };
}

export const HEADER = '{"holdfast":"outbox","v":1}\n';

/** A record line as the format says, checksummed here independently of the store. */
export function record(batch: unknown, v = 1): string {
  const body = JSON.stringify(batch);
  const crc = crc32(Buffer.from(body)).toString(16).padStart(8, '0');
  return `{"v":${v},"crc":"${crc}","batch":${body}}\n`;
}

/** Write batches 1 … n with a fresh store, and close it. */
export async function written(path: string, n: number): Promise<void> {
  const store = fileStore({ path });
  await opened(store);
  for (let k = 1; k <= n; k++) await store.write(batchFor(k));
  await store.close();
}

/** Open the store at `path` again (with `tuning`), read it, and close it. */
export async function reopen(path: string, tuning = defaultTuning) {
  const store = createFileStore(path, tuning);
  const outbox = await opened(store);
  await store.close();
  return outbox;
}

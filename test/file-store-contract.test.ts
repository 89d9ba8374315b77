/**
 * The OutboxStore contract's cases (test/support/store-cases.ts), run against the reference
 * `memoryStore` and against `fileStore`: a file store must behave exactly as memory does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'vitest';
import { fileStore } from '../adapters/file-store.js';
import { memoryStore } from '../adapters/memory-store.js';
import { type StoreSubject, storeCases } from './support/store-cases.js';

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

describe('the OutboxStore contract: memoryStore', () => {
  for (const { name, run } of storeCases)
    it(name, async () => {
      const store = memoryStore();
      await run({ store: () => store });
    });
});

describe('the OutboxStore contract: fileStore', () => {
  for (const { name, run } of storeCases)
    it(name, async () => {
      const folder = await mkdtemp(join(tmpdir(), 'holdfast-contract-'));
      folders.push(folder);
      const subject: StoreSubject = { store: () => fileStore({ path: join(folder, 'outbox') }) };
      await run(subject);
    });
});

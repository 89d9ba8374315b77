/**
 * `fileStore`'s lock (rule D5, docs/durability.md): one owner at a time, and a lock whose
 * holder is gone — a dead pid, a pid now used by another process, a file torn by a power
 * loss — is free at once, never after a timeout. Many takers at once: exactly one wins.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileStore } from '../adapters/file-store.js';
import type { StoreOpening } from '../adapters/store.js';
import { message, opened } from './support/store-cases.js';

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});
async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'holdfast-file-lock-'));
  folders.push(path);
  return path;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const { pid, status } = spawnSync(process.execPath, ['-e', '']);
  expect(status).toBe(0);
  return pid as number;
}

const locks = async (path: string) =>
  (await readdir(path)).filter((name) => name.startsWith('lock')).sort();

/** Open, and say how long it took. */
async function timedOpen(path: string): Promise<{ opening: StoreOpening; ms: number }> {
  const started = performance.now();
  const store = fileStore({ path });
  const opening = await store.open();
  const ms = performance.now() - started;
  await store.close();
  return { opening, ms };
}

const linux = existsSync('/proc/self/stat');

describe('fileStore: the lock', () => {
  it('names its holder: pid, a token and, on Linux, the boot and start time', async () => {
    const path = await folder();
    const store = fileStore({ path });
    await opened(store);
    expect(await locks(path)).toEqual(['lock.1']);
    const holder = JSON.parse(await readFile(join(path, 'lock.1'), 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, token: expect.any(String) });
    if (linux)
      expect(holder).toMatchObject({ boot: expect.any(String), start: expect.any(String) });
    await store.close();
    expect(await locks(path)).toEqual(['lock.2']);
    expect(JSON.parse(await readFile(join(path, 'lock.2'), 'utf8'))).toMatchObject({ free: true });
  });

  it('in one process, a closing owner wakes its waiter at once', async () => {
    const path = await folder();
    const first = fileStore({ path });
    await opened(first);
    await first.write({ put: [message('a', 1)] });
    const second = fileStore({ path });
    const busy = await second.open();
    if (busy.status !== 'busy') expect.fail('busy');
    const closed = performance.now();
    await first.close();
    await busy.released;
    expect(performance.now() - closed).toBeLessThan(50); // not a poll
    expect((await opened(second)).messages).toEqual([message('a', 1)]);
    await second.close();
  });

  it('a lock naming a dead pid is taken over at once', async () => {
    const path = await folder();
    await writeFile(join(path, 'lock.7'), JSON.stringify({ pid: deadPid(), token: 'gone' }));
    const { opening, ms } = await timedOpen(path);
    expect(opening.status).toBe('open');
    expect(ms).toBeLessThan(1000);
    expect(await locks(path)).toEqual(['lock.9']); // 8 was ours, 9 says free
  });

  it.skipIf(!linux)(
    'a lock naming a live pid that another process had before (its start time differs) is taken over',
    async () => {
      const path = await folder();
      const mine = JSON.parse(
        await (async () => {
          const store = fileStore({ path });
          await opened(store);
          const text = await readFile(join(path, 'lock.1'), 'utf8');
          await store.close();
          return text;
        })(),
      );
      await rm(join(path, 'lock.2'));
      // Our own pid, as a process that ran before us would have left it (a container's pid 1).
      await writeFile(join(path, 'lock.1'), JSON.stringify({ ...mine, start: '1', token: 'old' }));
      expect((await timedOpen(path)).opening.status).toBe('open');
      await writeFile(
        join(path, 'lock.3'),
        JSON.stringify({ ...mine, boot: 'other', token: 'old' }),
      );
      expect((await timedOpen(path)).opening.status).toBe('open');
      // The same pid, boot and start: this very process holds it (a store never closed).
      await writeFile(join(path, 'lock.5'), JSON.stringify({ ...mine, token: 'leaked' }));
      expect((await timedOpen(path)).opening.status).toBe('busy');
    },
  );

  it('a lock file torn by a power loss, or a free one, is taken; stale temporary files go', async () => {
    const path = await folder();
    await writeFile(join(path, 'lock.1'), '{"pid":12');
    await writeFile(join(path, `lock-${deadPid()}-${crypto.randomUUID()}.tmp`), '{}');
    expect((await timedOpen(path)).opening.status).toBe('open');
    expect(await locks(path)).toEqual(['lock.3']);
    expect((await timedOpen(path)).opening.status).toBe('open');
    expect(await locks(path)).toEqual(['lock.5']);
  });

  it('of many takers at once, exactly one owns the store; the others wait and then race again', async () => {
    const path = await folder();
    await writeFile(join(path, 'lock.1'), JSON.stringify({ pid: deadPid(), token: 'gone' }));
    for (let round = 0; round < 10; round++) {
      const stores = Array.from({ length: 8 }, () => fileStore({ path }));
      const openings = await Promise.all(stores.map((store) => store.open()));
      const owners = openings.flatMap((opening, i) => (opening.status === 'open' ? [i] : []));
      expect(owners).toHaveLength(1);
      const owner = stores[owners[0] as number];
      await owner?.write({ reserved: round + 1 });
      await owner?.close();
      for (const opening of openings) if (opening.status === 'busy') await opening.released;
      await Promise.all(stores.map((store) => store.close()));
    }
    expect((await timedOpen(path)).opening).toMatchObject({ outbox: { reserved: 10 } });
  });

  it('a waiter that closes stops waiting', async () => {
    const path = await folder();
    const owner = fileStore({ path });
    await opened(owner);
    const waiter = fileStore({ path });
    const busy = await waiter.open();
    if (busy.status !== 'busy') expect.fail('busy');
    let released = false;
    void busy.released.then(() => {
      released = true;
    });
    await waiter.close();
    await owner.close();
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(released).toBe(false);
  });

  it('an open that cannot make its folder rejects, naming it', async () => {
    const path = await folder();
    await writeFile(join(path, 'file'), '');
    await expect(fileStore({ path: join(path, 'file', 'store') }).open()).rejects.toThrow(
      /holdfast fileStore: cannot open .*file.store/,
    );
  });
});

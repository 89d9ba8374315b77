/**
 * `fileStore` against real processes (docs/durability.md): a store held by a live child
 * is busy until the child is SIGKILLed, then free at once; a child SIGKILLed mid-append
 * loses nothing that it was told was written; a disk that refuses a write leaves the store
 * usable. The child (test/support/file-store-child.ts) is bundled once with esbuild.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStore } from '../adapters/file-store.js';
import { bundleChild } from './support/child-bundle.js';
import { expectedAfter } from './support/file-store-child.js';
import { opened } from './support/store-cases.js';

let work = '';
let childScript = '';
const children = new Set<ChildProcess>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'holdfast-file-store-'));
  childScript = join(work, 'child.mjs');
  await bundleChild(new URL('./support/file-store-child.ts', import.meta.url), childScript);
});
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

let folders = 0;
const folder = () => join(work, `store-${++folders}`);

interface Child {
  readonly process: ChildProcess;
  /** Resolves with the first line of output that `pattern` matches. */
  line(pattern: RegExp): Promise<string>;
  /** Every line printed so far. */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
}

function startChild(args: string[], command = process.execPath): Child {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (const listener of listeners) listener(line);
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const line = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return resolve(seen);
      const listener = (l: string) => {
        if (!pattern.test(l)) return;
        listeners.delete(listener);
        resolve(l);
      };
      listeners.add(listener);
      void exited.then((how) =>
        reject(new Error(`the child exited (${JSON.stringify(how)}) before ${pattern}: ${stderr}`)),
      );
    });
  return { process: child, line, lines, exited, stderr: () => stderr };
}

/** A seeded generator of numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fileStore across processes', () => {
  it('a store a live child holds is busy until the child is SIGKILLed, then free at once', async () => {
    const path = folder();
    const child = startChild([childScript, 'hold', path]);
    await child.line(/^open$/);
    const store = fileStore({ path });
    const opening = await store.open();
    if (opening.status !== 'busy') expect.fail('busy while the child holds the store');
    let released = false;
    void opening.released.then(() => {
      released = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(released).toBe(false);
    const killedAt = performance.now();
    child.process.kill('SIGKILL');
    await opening.released;
    // One poll (100 ms), not a timeout: a dead holder is no holder.
    expect(performance.now() - killedAt).toBeLessThan(1000);
    expect(await opened(store)).toEqual(expectedAfter(0));
    await store.close();
  });

  it('loses no batch whose write resolved across 20 SIGKILLs at random moments (seeded)', async () => {
    const random = seeded(20_241_202);
    const path = folder();
    let held = 0;
    for (let round = 0; round < 20; round++) {
      const child = startChild([childScript, 'append', path]);
      // The child starts where the last reopen left the store.
      expect(await child.line(/^open /)).toBe(`open ${held}`);
      const writes = 1 + Math.floor(random() * 60);
      await child.line(new RegExp(`^wrote ${held + writes}$`));
      await new Promise((resolve) => setTimeout(resolve, random() * 5));
      child.process.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      const acknowledged = Number(child.lines.at(-1)?.split(' ')[1]);

      const store = fileStore({ path });
      const outbox = await opened(store);
      await store.close();
      // Everything acknowledged is there; at most the one write in flight is there too.
      expect([acknowledged, acknowledged + 1]).toContain(outbox.reserved);
      expect({ ...outbox, problems: [] }).toEqual(expectedAfter(outbox.reserved));
      // A torn write is reported, never fatal.
      expect(outbox.problems.length).toBeLessThanOrEqual(1);
      for (const problem of outbox.problems) expect(problem).toMatch(/cut short/);
      held = outbox.reserved;
    }
    expect(held).toBeGreaterThan(20);
  }, 30_000);

  it.skipIf(process.platform === 'win32')(
    'a write the disk refuses (a file size limit) rejects, is cut back off, and the next write works',
    async () => {
      const path = folder();
      // 16 blocks of 512 bytes: batch 1 fits, the 20 kB batch is cut short by the system.
      const child = startChild(
        ['-c', 'ulimit -f 16 && exec "$0" "$@"', process.execPath, childScript, 'fill', path],
        '/bin/sh',
      );
      expect(await child.exited).toEqual({ code: 0, signal: null });
      expect(child.lines).toEqual(['wrote 1', 'rejected EFBIG', 'wrote 2']);
      const store = fileStore({ path });
      expect(await opened(store)).toEqual(expectedAfter(2));
      await store.close();
    },
  );
});

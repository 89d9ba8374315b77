/**
 * `fileStore({ path })`: an `OutboxStore` on disk, for Node (durable.md §2, docs/durability.md).
 * One folder per connection identity, holding an append-only log (`outbox.log`) and the
 * lock files of its owner (`lock.<n>`).
 *
 * - `write(batch)` appends one record and waits for `fdatasync` before it resolves: a batch
 *   that resolved survives SIGKILL and, where the disk honours the sync, power loss. A write
 *   the disk refuses is cut back off the log, so the next one starts clean.
 * - When the log outgrows the state it holds (4× and over 1 MiB), the state is written to a
 *   new file, synced, and renamed over the log; the folder is synced after.
 * - `open()` takes the lock (rule D5; `file-store-lock.ts`), reads the log back (a bad line
 *   is named in `problems` and skipped; the rest apply) and rewrites it whenever it was not
 *   clean, so that problems are reported once and appends never follow a torn line.
 */
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { compact, LOG_FILE, syncDir, TEMP_FILE, writeAll } from './file-store-compact.js';
import { checkBatch, encodeRecord } from './file-store-format.js';
import { type HeldLock, releaseLock, takeLock, whenReleased } from './file-store-lock.js';
import { applyBatch, emptyHeld, type Held, readLog } from './file-store-log.js';
import type { OutboxStore, StoreBatch, StoredOutbox, StoreOpening } from './store.js';

export interface FileStoreOptions {
  /**
   * The folder of the store, created with its parents if missing. One folder per connection
   * identity; two stores on one folder share one owner at a time (D5). A local disk: the
   * lock checks processes of this machine.
   */
  readonly path: string;
}

/** The numbers of a file store; `fileStore()` uses `defaultTuning`, tests smaller ones. */
export interface FileStoreTuning {
  /** The longest record, `\n` excluded: a bigger batch is refused, a longer line skipped. */
  readonly maxRecordBytes: number;
  /** The log is never compacted below this size. */
  readonly compactAtBytes: number;
  /** The log is compacted once it is this many times the size of the state it holds. */
  readonly compactRatio: number;
  /** A compacted log puts about this many bytes of messages in each record. */
  readonly snapshotChunkBytes: number;
  /** How often a busy store looks whether its owner in another process let go. */
  readonly pollMs: number;
  /** Problems named one by one when reading; the rest are counted. */
  readonly maxProblems: number;
}

export const defaultTuning: FileStoreTuning = {
  maxRecordBytes: 64 * 1024 * 1024,
  compactAtBytes: 1024 * 1024,
  compactRatio: 4,
  snapshotChunkBytes: 1024 * 1024,
  pollMs: 100,
  maxProblems: 100,
};

/** A durable outbox in the folder `path`, for Node (see the module's comment). */
export function fileStore(options: FileStoreOptions): OutboxStore {
  const path = (options as Partial<FileStoreOptions> | undefined)?.path;
  if (typeof path !== 'string' || path === '')
    throw new TypeError('holdfast fileStore: `path` must be the path of a folder (a string)');
  return createFileStore(path, defaultTuning);
}

interface Owner {
  readonly lock: HeldLock;
  readonly held: Held;
  handle: FileHandle;
  /** Where the next record goes: the end of the last whole one. */
  end: number;
  /** Bytes may lie past `end` (a write that failed and could not be cut off yet). */
  dirty: boolean;
  /** The log was renamed in but the folder not synced yet: sync it before appending. */
  dirUnsynced: boolean;
  /** No compaction below this size (twice the last compacted log). */
  floor: number;
}

export function createFileStore(path: string, tuning: FileStoreTuning): OutboxStore {
  const dir = resolve(path);
  const logFile = join(dir, LOG_FILE);
  let owner: Owner | undefined;
  const waits = new Set<{ stop(): void }>();
  // open, write and close run one at a time, in the order they were called.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = chain.then(task);
    chain = run.catch(() => undefined);
    return run;
  };
  const due = (held: Held, size: number, floor: number) =>
    size > Math.max(tuning.compactAtBytes, tuning.compactRatio * held.bytes, floor);

  async function load(lock: HeldLock): Promise<{ owner: Owner; problems: string[] }> {
    await rm(join(dir, TEMP_FILE), { force: true }); // a compaction that never committed
    const read = await readLog(logFile, tuning);
    const held = read?.held ?? emptyHeld();
    const problems = read?.problems ?? [];
    const owner = (log: Omit<Owner, 'lock' | 'held' | 'dirty'>) => ({
      owner: { lock, held, dirty: false, ...log },
      problems,
    });
    if (read?.clean && !due(held, read.size, 0)) {
      const handle = await open(logFile, 'r+');
      return owner({ handle, end: read.size, dirUnsynced: false, floor: 0 });
    }
    try {
      const { handle, size, dirSynced } = await compact(held, dir, tuning.snapshotChunkBytes);
      return owner({ handle, end: size, dirUnsynced: !dirSynced, floor: 2 * size });
    } catch (error) {
      if (read === undefined) throw error;
    }
    // No room to rewrite: go on with the old log, a torn end cut off.
    const handle = await open(logFile, 'r+');
    try {
      if (read.end < read.size) {
        await handle.truncate(read.end);
        await handle.datasync();
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    const floor = read.end + tuning.compactAtBytes;
    return owner({ handle, end: read.end, dirUnsynced: false, floor });
  }

  async function compactOwner(current: Owner): Promise<void> {
    try {
      const compacted = await compact(current.held, dir, tuning.snapshotChunkBytes);
      const old = current.handle;
      current.handle = compacted.handle;
      current.end = compacted.size;
      current.dirUnsynced = !compacted.dirSynced;
      current.floor = 2 * compacted.size;
      await old.close().catch(() => undefined);
    } catch {
      // The batch is safe in the log all the same; try again once it grew some more.
      current.floor = current.end + tuning.compactAtBytes;
    }
  }

  return {
    open: () =>
      serial(async (): Promise<StoreOpening> => {
        let taking: Awaited<ReturnType<typeof takeLock>>;
        try {
          await makeDir(dir);
          taking = await takeLock(dir);
        } catch (error) {
          throw failure(`cannot open ${dir}`, error);
        }
        if (taking.status === 'busy') {
          const wait = whenReleased(dir, taking.number, tuning.pollMs);
          waits.add(wait);
          void wait.released.then(() => waits.delete(wait));
          const cancel = () => {
            wait.stop();
            waits.delete(wait);
          };
          return { status: 'busy', released: wait.released, cancel };
        }
        let loaded: Awaited<ReturnType<typeof load>>;
        try {
          loaded = await load(taking.lock);
        } catch (error) {
          await releaseLock(dir, taking.lock).catch(() => undefined);
          throw failure(`cannot read ${logFile}`, error);
        }
        owner = loaded.owner;
        return { status: 'open', outbox: outboxOf(owner.held, loaded.problems) };
      }),

    write: (batch: StoreBatch) =>
      serial(async () => {
        const current = owner;
        if (current === undefined)
          throw new Error('holdfast fileStore: write() without owning the store');
        const checked = checkBatch(batch, false);
        if (typeof checked === 'string')
          throw new TypeError(`holdfast fileStore: a batch of the wrong shape: ${checked}`);
        const record = encodeRecord(checked);
        if (record.length - 1 > tuning.maxRecordBytes)
          throw new RangeError(
            `holdfast fileStore: a batch of ${record.length - 1} bytes is over the limit of one record (${tuning.maxRecordBytes}); nothing was written`,
          );
        try {
          if (current.dirUnsynced) await syncDir(dir);
          current.dirUnsynced = false;
          if (current.dirty) await current.handle.truncate(current.end);
          current.dirty = true;
          await writeAll(current.handle, [record], current.end);
          await current.handle.datasync();
          current.dirty = false;
        } catch (error) {
          // Cut what may have been written back off, so the next record starts on a line.
          if (current.dirty) await cutBack(current);
          throw failure(`could not write to ${logFile}`, error);
        }
        current.end += record.length;
        applyBatch(current.held, checked);
        if (due(current.held, current.end, current.floor)) await compactOwner(current);
      }),

    close: () =>
      serial(async () => {
        const current = owner;
        if (current === undefined) {
          // Not the owner: stop waiting for one to let go.
          for (const wait of waits) wait.stop();
          waits.clear();
          return;
        }
        owner = undefined;
        await current.handle.close().catch(() => undefined);
        await releaseLock(dir, current.lock);
      }),
  };
}

/** Cut a failed append back off the log; if that fails too, the next write tries again. */
async function cutBack(current: Owner): Promise<void> {
  try {
    await current.handle.truncate(current.end);
    await current.handle.datasync();
    current.dirty = false;
  } catch {}
}

function outboxOf(held: Held, problems: string[]): StoredOutbox {
  return {
    session: held.session,
    reserved: held.reserved,
    messages: [...held.messages.values()].map((message) => ({ ...message })),
    positions: held.positions.map((position) => ({ ...position })),
    problems,
  };
}

/** Create the folder; a new folder's entry in its parent is synced, like the files in it. */
async function makeDir(dir: string): Promise<void> {
  const made = await mkdir(dir, { recursive: true });
  if (made === undefined) return;
  for (let at = dir; ; at = dirname(at)) {
    await syncDir(dirname(at)).catch(() => undefined);
    if (at === made || dirname(at) === at) return;
  }
}

function failure(what: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith('holdfast')) return error as Error;
  return new Error(`holdfast fileStore: ${what}: ${message}`, { cause: error });
}

/**
 * Writing the outbox log (docs/durability.md): appends of whole buffers, folder syncs, and
 * compaction — the whole state written as a new log that replaces the old one by `rename`.
 */
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { platform } from 'node:process';
import { encodeRecord, HEADER } from './file-store-format.js';
import { type Held, messageBytes } from './file-store-log.js';
import type { StoredMessage } from './store.js';
import type { StreamPosition } from './transport.js';

/** The log of a state: its header, then records of at most about `chunkBytes` each. */
export function snapshot(held: Held, chunkBytes: number): Buffer[] {
  const lines: Buffer[] = [Buffer.from(`${HEADER}\n`, 'latin1')];
  const first: { session?: string; reserved?: number; positions?: readonly StreamPosition[] } = {};
  if (held.session !== undefined) first.session = held.session;
  if (held.reserved > 0) first.reserved = held.reserved;
  if (held.positions.length > 0) first.positions = held.positions;
  if (Object.keys(first).length > 0) lines.push(encodeRecord(first));
  let put: StoredMessage[] = [];
  let bytes = 0;
  for (const message of held.messages.values()) {
    // A record is at most one chunk, or one message (which came in a record of its own).
    if (put.length > 0 && bytes + messageBytes(message) > chunkBytes) {
      lines.push(encodeRecord({ put }));
      put = [];
      bytes = 0;
    }
    put.push(message);
    bytes += messageBytes(message);
  }
  if (put.length > 0) lines.push(encodeRecord({ put }));
  return lines;
}

/** Write every byte of `buffers` from `position` on; the bytes written. */
export async function writeAll(
  handle: FileHandle,
  buffers: readonly Buffer[],
  position: number,
): Promise<number> {
  let at = position;
  for (const buffer of buffers) {
    let done = 0;
    while (done < buffer.length) {
      const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, at);
      done += bytesWritten;
      at += bytesWritten;
    }
  }
  return at - position;
}

/** Make a folder's entries (a created or renamed file) durable. Windows has no such call. */
export async function syncDir(dir: string): Promise<void> {
  if (platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** What a compaction leaves: the new log, open, and its size. */
export interface Compacted {
  readonly handle: FileHandle;
  readonly size: number;
  /** Whether the folder was synced after the rename (else: sync it before the next append). */
  readonly dirSynced: boolean;
}

/** The log in a store's folder. */
export const LOG_FILE = 'outbox.log';
/** A compaction's new log until its rename: never read, removed when found at open. */
export const TEMP_FILE = 'outbox.log.tmp';

/**
 * Write `held` to the temporary file, sync it, and rename it over the log: the rename is the
 * commit, so a crash at any step leaves either the old log or the new one, whole. The new
 * log stays open, for the appends that follow.
 */
export async function compact(held: Held, dir: string, chunkBytes: number): Promise<Compacted> {
  const temp = join(dir, TEMP_FILE);
  const handle = await open(temp, 'w');
  let size: number;
  try {
    size = await writeAll(handle, snapshot(held, chunkBytes), 0);
    await handle.sync();
    await rename(temp, join(dir, LOG_FILE));
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  const dirSynced = await syncDir(dir).then(
    () => true,
    () => false,
  );
  return { handle, size, dirSynced };
}

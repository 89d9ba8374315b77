/**
 * Reading the outbox log back (docs/durability.md): line by line with bounded memory, each
 * good record's batch applied to the state, each bad line named and skipped.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { decodeRecord, FORMAT_VERSION, readHeader } from './file-store-format.js';
import type { StoreBatch, StoredMessage } from './store.js';
import type { StreamPosition } from './transport.js';

/** What a store holds, as its batches built it. */
export interface Held {
  session: string | undefined;
  reserved: number;
  messages: Map<string, StoredMessage>;
  positions: readonly StreamPosition[];
  /** About how many bytes the state takes in a log: what compaction would leave. */
  bytes: number;
}

export function emptyHeld(): Held {
  return { session: undefined, reserved: 0, messages: new Map(), positions: [], bytes: 0 };
}

// A guess of a message's bytes in a record: its strings plus the field names around them.
export const messageBytes = (message: StoredMessage) =>
  message.id.length + message.json.length + 64;

/** Apply a checked batch in the contract's order: session, reservation, puts, removals, positions. */
export function applyBatch(held: Held, batch: StoreBatch): void {
  if (batch.session !== undefined) held.session = batch.session;
  if (batch.reserved !== undefined) held.reserved = Math.max(held.reserved, batch.reserved);
  for (const message of batch.put ?? []) {
    const before = held.messages.get(message.id);
    if (before !== undefined) held.bytes -= messageBytes(before);
    held.messages.set(message.id, message);
    held.bytes += messageBytes(message);
  }
  for (const id of batch.remove ?? []) {
    const before = held.messages.get(id);
    if (before === undefined) continue;
    held.bytes -= messageBytes(before);
    held.messages.delete(id);
  }
  if (batch.positions !== undefined) held.positions = batch.positions;
}

/** What reading a log found. */
export interface LogRead {
  readonly held: Held;
  readonly problems: string[];
  /** The file's size in bytes. */
  readonly size: number;
  /** Where the last complete line ends: what follows it is a write that never finished. */
  readonly end: number;
  /** A header, every line read, nothing cut short: nothing to rewrite. */
  readonly clean: boolean;
}

export interface ReadLimits {
  /** The longest line read, `\n` excluded; a longer one is skipped unread. */
  readonly maxRecordBytes: number;
  /** Problems named one by one; the rest are counted in one more sentence. */
  readonly maxProblems: number;
}

/**
 * Read the log at `file`, or `undefined` when there is none. Streams it in chunks, holding
 * at most one line (up to `maxRecordBytes`) at a time: a file of garbage costs time, never
 * memory. A line that cannot be read is named in `problems` and skipped; the others apply.
 */
export async function readLog(file: string, limits: ReadLimits): Promise<LogRead | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const held = emptyHeld();
  const problems: string[] = [];
  let unlisted = 0;
  let clean = true;
  // A whole line was skipped: it may have held the session or a raised reservation.
  let doubt = false;
  const report = (line: number, at: number, what: string) => {
    clean = false;
    if (problems.length < limits.maxProblems)
      problems.push(`${file} line ${line} (byte ${at}): ${what}; skipped.`);
    else unlisted++;
  };
  const skip = (line: number, at: number, what: string) => {
    doubt = true;
    report(line, at, what);
  };
  let lineNumber = 0;
  let lineStart = 0;
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  let offset = 0;
  const take = (line: Buffer) => {
    lineNumber++;
    const header = lineNumber === 1 ? readHeader(line) : undefined;
    if (header === true) return;
    if (typeof header === 'number' && header > FORMAT_VERSION)
      throw new Error(
        `holdfast fileStore: ${file} is format version ${header}, newer than this holdfast reads (${FORMAT_VERSION}); left as it is`,
      );
    const decoded = decodeRecord(line);
    if (lineNumber === 1) {
      clean = false;
      if ('problem' in decoded) return skip(1, 0, 'neither the outbox header nor a record');
    }
    if ('batch' in decoded) applyBatch(held, decoded.batch);
    else skip(lineNumber, lineStart, decoded.problem);
  };
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(256 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      let from = 0;
      for (;;) {
        const newline = chunk.indexOf(10, from);
        const stop = newline === -1 ? bytesRead : newline;
        if (!tooLong && length + (stop - from) > limits.maxRecordBytes) {
          tooLong = true;
          parts = [];
        }
        if (!tooLong) {
          parts.push(chunk.subarray(from, stop));
          length += stop - from;
        }
        if (stop === bytesRead) break;
        if (tooLong) skip(++lineNumber, lineStart, `longer than ${limits.maxRecordBytes} bytes`);
        else take(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, length));
        parts = [];
        length = 0;
        tooLong = false;
        from = stop + 1;
        lineStart = offset + from;
      }
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
  // A write that never finished never resolved: the connection used nothing it held.
  if (lineStart < offset)
    report(
      lineNumber + 1,
      lineStart,
      'cut short, with no end of line (a write that never finished)',
    );
  if (lineNumber === 0) clean = false;
  if (unlisted > 0) problems.push(`${file}: ${unlisted} more unreadable lines, not listed.`);
  if (doubt && held.session !== undefined) {
    held.session = undefined;
    problems.push(
      `${file}: a skipped line may have raised the serial reservation, so the session is dropped: its messages go out under a new one, and no serial is used twice.`,
    );
  }
  return { held, problems, size: offset, end: lineStart, clean };
}

/**
 * The outbox log's lines (docs/durability.md): a header, then one record per batch.
 *
 *     {"holdfast":"outbox","v":1}
 *     {"v":1,"crc":"0ed67ae5","batch":{"reserved":1000,"remove":["a"]}}
 *
 * Every record line starts with `{"v":<version>,`, so a record of a later version is
 * recognised as one and skipped by name. In version 1 the `crc` is the CRC-32 (IEEE) of the
 * exact bytes of the `batch` JSON, in 8 lowercase hex digits: a line cut short or changed
 * on disk fails it. A line ends with `\n`; what follows the last `\n` is a write that never
 * finished. A batch is checked field by field, on the way in as on the way out.
 */
import * as zlib from 'node:zlib';
import { isSessionId, WireLimit } from './protocol.js';
import type { StoreBatch, StoredMessage } from './store.js';
import { checkMessage, checkPosition, isCount, isObject, isText } from './store-records.js';
import type { StreamPosition } from './transport.js';

/** The version of the log this holdfast writes and reads. */
export const FORMAT_VERSION = 1;

/** The first line of every log (without its `\n`). */
export const HEADER = `{"holdfast":"outbox","v":${FORMAT_VERSION}}`;

const PREFIX = `{"v":${FORMAT_VERSION},"crc":"00000000","batch":`;
const PREFIX_BYTES = Buffer.from(PREFIX, 'latin1');
const CRC_AT = PREFIX.indexOf('00000000');
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

let table: Int32Array | undefined;

/** CRC-32 (IEEE), as zlib computes it: Node's own where it has one (≥ 20.15), else here. */
export function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (typeof native === 'function') return native(bytes) >>> 0;
  if (table === undefined) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = -1;
  for (const byte of bytes) crc = (table[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** One record line, `\n` included, of a batch already checked (`checkBatch`). */
export function encodeRecord(batch: StoreBatch): Buffer {
  const line = Buffer.from(`${PREFIX}${JSON.stringify(batch)}}\n`, 'utf8');
  const crc = crc32(line.subarray(PREFIX.length, line.length - 2));
  line.write(crc.toString(16).padStart(8, '0'), CRC_AT, 'latin1');
  return line;
}

/** What a line said: a batch, or why it was skipped (a phrase). */
export type Decoded = { readonly batch: StoreBatch } | { readonly problem: string };

/** Read one record line (without its `\n`). Never throws. */
export function decodeRecord(line: Buffer): Decoded {
  // `{"v":` then up to 9 digits then `,`: the part every version shares.
  let at = 5;
  while (
    at < line.length &&
    at < 14 &&
    (line[at] as number) >= 0x30 &&
    (line[at] as number) <= 0x39
  )
    at++;
  if (!line.subarray(0, 5).equals(PREFIX_BYTES.subarray(0, 5)) || at === 5 || line[at] !== 0x2c)
    return { problem: 'not a record of this format (a corrupt line)' };
  const version = Number(line.toString('latin1', 5, at));
  if (version > FORMAT_VERSION)
    return {
      problem: `a record of format version ${version}, newer than this holdfast reads (${FORMAT_VERSION})`,
    };
  if (
    version !== FORMAT_VERSION ||
    line.length < PREFIX.length + 1 ||
    !line.subarray(0, CRC_AT).equals(PREFIX_BYTES.subarray(0, CRC_AT)) ||
    !line.subarray(CRC_AT + 8, PREFIX.length).equals(PREFIX_BYTES.subarray(CRC_AT + 8)) ||
    line[line.length - 1] !== CLOSE_BRACE
  )
    return { problem: 'not a record of this format (a corrupt line)' };
  const stated = line.toString('latin1', CRC_AT, CRC_AT + 8);
  const body = line.subarray(PREFIX.length, line.length - 1);
  if (!/^[0-9a-f]{8}$/.test(stated) || Number.parseInt(stated, 16) !== crc32(body))
    return { problem: 'its checksum does not match (a corrupt record)' };
  let value: unknown;
  try {
    value = body[0] === OPEN_BRACE ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    value = undefined;
  }
  if (value === undefined) return { problem: 'its batch is not a JSON object' };
  const batch = checkBatch(value, true);
  return typeof batch === 'string'
    ? { problem: `a record of the wrong shape: ${batch}` }
    : { batch };
}

/** Whether a line is this version's header; a number when it is a header of another version. */
export function readHeader(line: Buffer): true | number | undefined {
  if (line.toString('latin1') === HEADER) return true;
  try {
    const value = JSON.parse(line.toString('utf8')) as unknown;
    if (isObject(value) && value.holdfast === 'outbox' && Number.isSafeInteger(value.v))
      return value.v as number;
  } catch {}
  return undefined;
}

const BATCH_KEYS = new Set(['session', 'reserved', 'put', 'remove', 'positions']);

/**
 * A fresh copy of `value` with only the fields of a `StoreBatch`, each checked, or what is
 * wrong with it (a phrase naming the field). `strict` (reading) refuses fields it does not
 * know; writing leaves them out.
 */
export function checkBatch(value: unknown, strict: boolean): StoreBatch | string {
  if (!isObject(value)) return 'the batch is not an object';
  const unknown = strict && Object.keys(value).find((key) => !BATCH_KEYS.has(key));
  if (unknown) return `it has an unknown field "${unknown}"`;
  const batch: {
    session?: string;
    reserved?: number;
    put?: StoredMessage[];
    remove?: string[];
    positions?: StreamPosition[];
  } = {};
  const { session, reserved, put, remove, positions } = value;
  if (session !== undefined) {
    if (!isSessionId(session)) return 'session is not 16–128 characters of [A-Za-z0-9_-]';
    batch.session = session;
  }
  if (reserved !== undefined) {
    if (!isCount(reserved, 0)) return 'reserved is not an integer ≥ 0';
    batch.reserved = reserved;
  }
  if (put !== undefined) {
    if (!Array.isArray(put)) return 'put is not a list';
    batch.put = [];
    for (const [index, message] of put.entries()) {
      const checked = checkMessage(message, strict);
      if (typeof checked === 'string') return `put[${index}]${checked}`;
      batch.put.push(checked);
    }
  }
  if (remove !== undefined) {
    if (!Array.isArray(remove)) return 'remove is not a list';
    const bad = remove.findIndex((id) => !isText(id, WireLimit.nameChars));
    if (bad >= 0) return `remove[${bad}] is not an id of 1–${WireLimit.nameChars} characters`;
    batch.remove = [...(remove as string[])];
  }
  if (positions !== undefined) {
    if (!Array.isArray(positions)) return 'positions is not a list';
    batch.positions = [];
    for (const [index, position] of positions.entries()) {
      const checked = checkPosition(position, strict);
      if (typeof checked === 'string') return `positions[${index}]${checked}`;
      batch.positions.push(checked);
    }
  }
  return batch;
}

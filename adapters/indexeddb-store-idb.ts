/**
 * The IndexedDB side of `indexedDbStore` (durable.md §2): the parts of the API it uses, as
 * minimal `*Like` interfaces (a browser's `indexedDB` fits, so does a test double), and
 * the three requests it makes — open the database, read everything in one transaction,
 * apply one batch in one transaction — as promises.
 *
 * Layout of one database: `meta` (keys `format`, `session`, `reserved`), `messages` (a
 * `StoredMessage` under its id) and `positions` (a `StreamPosition` under its stream), all
 * with out-of-line keys, so that a record of any shape can be read back and judged.
 */
import type { StoreBatch } from './store.js';

/** An `IDBRequest`'s part this store uses. */
export interface IDBRequestLike<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export interface IDBOpenRequestLike extends IDBRequestLike<IDBDatabaseLike> {
  onupgradeneeded: ((event: never) => void) | null;
}

export interface IDBObjectStoreLike {
  get(key: string): IDBRequestLike<unknown>;
  getAll(): IDBRequestLike<readonly unknown[]>;
  getAllKeys(): IDBRequestLike<readonly unknown[]>;
  put(value: unknown, key: string): unknown;
  delete(key: string): unknown;
  clear(): unknown;
}

export interface IDBTransactionLike {
  readonly error: unknown;
  objectStore(name: string): IDBObjectStoreLike;
  abort(): void;
  oncomplete: ((event: never) => void) | null;
  onabort: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export interface IDBDatabaseLike {
  readonly version: number;
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): IDBObjectStoreLike;
  transaction(
    stores: string[],
    mode: 'readonly' | 'readwrite',
    options?: { durability?: 'strict' | 'relaxed' | 'default' },
  ): IDBTransactionLike;
  close(): void;
  onversionchange: ((event: never) => void) | null;
  onclose?: ((event: never) => void) | null;
}

/** The part of `indexedDB` (an `IDBFactory`) this store uses. */
export interface IDBFactoryLike {
  open(name: string, version?: number): IDBOpenRequestLike;
}

/** The format of the records this version writes and reads (in `meta`, key `format`). */
export const FORMAT = 1;
const META = 'meta';
const MESSAGES = 'messages';
const POSITIONS = 'positions';
const STORES = [META, MESSAGES, POSITIONS];

/** What one read found, each record with its key, unchecked. */
export interface RawOutbox {
  readonly meta: ReadonlyMap<unknown, unknown>;
  readonly messages: ReadonlyArray<readonly [unknown, unknown]>;
  readonly positions: ReadonlyArray<readonly [unknown, unknown]>;
}

/** A DOMException (or anything) as `Name: message`, safe on any value. */
export function errorText(error: unknown): string {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  return typeof name === 'string' && name !== 'Error' ? `${name}: ${text}` : text || 'unknown';
}

function opened(request: IDBOpenRequestLike): Promise<IDBDatabaseLike> {
  return new Promise((resolve, reject) => {
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const name of STORES) {
        if (db.objectStoreNames.contains(name)) continue;
        const store = db.createObjectStore(name);
        if (name === META) store.put(FORMAT, 'format');
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Open the database at whatever version it has (a newer holdfast may have raised it), or
 * create it. Only when one of the three object stores is missing is the version raised
 * by one to add it: a database is never downgraded, nor its other stores touched.
 */
export async function openDatabase(
  factory: IDBFactoryLike,
  name: string,
): Promise<IDBDatabaseLike> {
  const db = await opened(factory.open(name));
  if (STORES.every((store) => db.objectStoreNames.contains(store))) return db;
  const version = db.version + 1;
  db.close();
  return opened(factory.open(name, version));
}

/** Every record of the three stores, with its key, read in one transaction. */
export function readAll(db: IDBDatabaseLike): Promise<RawOutbox> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORES, 'readonly');
    const read = STORES.map((name) => {
      const store = tx.objectStore(name);
      const keys = store.getAllKeys();
      const values = store.getAll();
      // Both list the store in key order: the i-th value is the i-th key's.
      return () => keys.result.map((key, i) => [key, values.result[i]] as const);
    });
    tx.oncomplete = () => {
      const [meta, messages, positions] = read.map((entries) => entries());
      resolve({ meta: new Map(meta), messages: messages ?? [], positions: positions ?? [] });
    };
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * Apply one batch in one readwrite transaction over the stores it touches, resolving on
 * `complete` (with `durability: 'strict'`: flushed to disk where the browser lets us ask)
 * and rejecting on `abort` — a quota, a full disk — with nothing applied. A batch that
 * touches nothing makes no transaction.
 */
export function applyBatch(db: IDBDatabaseLike, batch: StoreBatch): Promise<void> {
  const touched = [
    batch.session !== undefined || batch.reserved !== undefined ? META : '',
    batch.put?.length || batch.remove?.length ? MESSAGES : '',
    batch.positions ? POSITIONS : '',
  ].filter(Boolean);
  if (touched.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(touched, 'readwrite', { durability: 'strict' });
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
    try {
      const { session, reserved, put, remove, positions } = batch;
      if (session !== undefined) tx.objectStore(META).put(session, 'session');
      if (reserved !== undefined) {
        const meta = tx.objectStore(META);
        const held = meta.get('reserved');
        // Never lowered: the new value goes in only above the one held (or over a bad one).
        held.onsuccess = () => {
          const now = held.result;
          if (!(typeof now === 'number' && now >= reserved)) meta.put(reserved, 'reserved');
        };
      }
      if (put?.length || remove?.length) {
        const messages = tx.objectStore(MESSAGES);
        for (const { id, serial, json, retry, sent } of put ?? [])
          messages.put({ id, serial, json, retry, sent }, id);
        for (const id of remove ?? []) messages.delete(id);
      }
      if (positions) {
        const store = tx.objectStore(POSITIONS);
        store.clear();
        for (const { stream, seq, epoch } of positions)
          store.put(epoch === undefined ? { stream, seq } : { stream, seq, epoch }, stream);
      }
    } catch (error) {
      // A request refused at once (a bad key): abort, so nothing of the batch is applied.
      reject(error);
      try {
        tx.abort();
      } catch {
        // already finished or aborted
      }
    }
  });
}

/**
 * `indexedDbStore()`: an `OutboxStore` in the browser's IndexedDB (durable.md §2), from
 * `holdfast/browser`. What a page sends survives a reload, a crashed tab or a phone that
 * evicts the page: the next page load opens the store and the connection sends it.
 *
 * One database per store name (`holdfast-outbox:<name>`), one transaction per batch,
 * resolved only once the browser says it is committed. Ownership (D5) is an exclusive Web
 * Lock of the same name, which the browser frees when the owning page goes. Every record
 * read back is checked; a bad one is reported and skipped (`indexeddb-store-records.ts`).
 */
import { invalidArgument, missingGlobal } from './describe.js';
import {
  applyBatch,
  errorText,
  type IDBDatabaseLike,
  type IDBFactoryLike,
  openDatabase,
  readAll,
} from './indexeddb-store-idb.js';
import { type HeldLock, type LockManagerLike, ownership } from './indexeddb-store-lock.js';
import { batchProblem, readOutbox } from './indexeddb-store-records.js';
import type { OutboxStore, StoreBatch, StoreOpening } from './store.js';

export type {
  IDBDatabaseLike,
  IDBFactoryLike,
  IDBObjectStoreLike,
  IDBOpenRequestLike,
  IDBRequestLike,
  IDBTransactionLike,
} from './indexeddb-store-idb.js';
export type { LockManagerLike } from './indexeddb-store-lock.js';

const ENTRY = 'holdfast/browser indexedDbStore';

export interface IndexedDbStoreOptions {
  /**
   * Which outbox: pages of one origin that use the same name share it, one at a time (the
   * second waits, `store-busy`, until the first lets go). 1–200 characters.
   * @default 'holdfast'
   */
  name?: string;
  /** @default globalThis.indexedDB */
  indexedDB?: IDBFactoryLike;
  /**
   * The Web Locks that make one page the owner. Without them (a page not served over
   * HTTPS or from localhost, a browser older than 2022) `open()` rejects: two pages would
   * otherwise share one outbox and send each other's messages twice.
   * @default globalThis.navigator.locks
   */
  locks?: LockManagerLike;
}

export interface IndexedDbStore extends OutboxStore {
  /** The IndexedDB database, which is also the Web Lock's name: `holdfast-outbox:<name>`. */
  readonly database: string;
  /** Whether this store owns its outbox now (`open()` said `open`, no `close()` since). */
  readonly owned: boolean;
}

/** A global read safely: in a sandboxed frame, merely reading `indexedDB` throws. */
function fromGlobal<T>(read: () => T | undefined): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function checkOption(option: string, value: unknown, method: string): void {
  if (value !== undefined && typeof (value as Record<string, unknown>)?.[method] !== 'function')
    throw invalidArgument(option, `an object with a ${method}() method`, value, ENTRY);
}

export function indexedDbStore(options: IndexedDbStoreOptions = {}): IndexedDbStore {
  const name = options.name ?? 'holdfast';
  if (typeof name !== 'string' || name.length < 1 || name.length > 200) {
    throw invalidArgument('name', 'a string of 1–200 characters', name, ENTRY);
  }
  checkOption('indexedDB', options.indexedDB, 'open');
  checkOption('locks', options.locks, 'request');
  const database = `holdfast-outbox:${name}`;
  let owners: ReturnType<typeof ownership> | undefined;
  let owner: HeldLock | undefined;
  let db: IDBDatabaseLike | undefined;
  // Bumped by close(): an open() that finishes after it lets go instead of owning.
  let closes = 0;

  /** The platform, found when first needed: a missing one makes `open()` reject. */
  const platform = () => {
    const factory =
      options.indexedDB ??
      fromGlobal(() => (globalThis as { indexedDB?: IDBFactoryLike }).indexedDB);
    if (!factory) {
      throw missingGlobal(ENTRY, 'indexedDB', 'pass the indexedDB option (or storeFallback)');
    }
    const locks =
      options.locks ??
      fromGlobal(
        () => (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks,
      );
    if (!locks) {
      throw missingGlobal(
        ENTRY,
        'navigator.locks (not HTTPS, or an old browser)',
        'two pages could share one outbox; pass the locks option (or storeFallback)',
      );
    }
    owners ??= ownership(locks, database);
    return { factory, owners };
  };

  /** The database, opened again if the browser closed it under us (storage cleared). */
  const connect = async (factory: IDBFactoryLike): Promise<IDBDatabaseLike> => {
    if (db) return db;
    const opened = await openDatabase(factory, database);
    const forget = () => {
      opened.close();
      if (db === opened) db = undefined;
    };
    // A newer holdfast in another page upgrading the database: let it, reopen on next use.
    opened.onversionchange = forget;
    opened.onclose = forget;
    db = opened;
    return opened;
  };

  const fail = (what: string, error: unknown) =>
    new Error(`${ENTRY}: ${what} (${database}): ${errorText(error)}`, { cause: error });

  return {
    database,
    get owned() {
      return owner !== undefined;
    },
    async open(): Promise<StoreOpening> {
      const { factory, owners } = platform();
      const closesBefore = closes;
      const got = await owners.acquire();
      if ('busy' in got)
        return {
          status: 'busy',
          released: got.busy,
          cancel: () => {
            owners.releaseAll().catch(() => undefined);
          },
        };
      try {
        const outbox = readOutbox(await readAll(await connect(factory)));
        if (closes !== closesBefore) throw new Error('close() was called while opening');
        owner = got.held;
        return { status: 'open', outbox };
      } catch (error) {
        await got.held.release();
        throw fail('could not open the outbox', error);
      }
    },
    async write(batch: StoreBatch): Promise<void> {
      if (!owner) throw new Error(`${ENTRY}: write() without owning the store (${database})`);
      const problem = batchProblem(batch);
      if (problem) throw new TypeError(`${ENTRY}: a bad batch, not written: ${problem}`);
      try {
        await applyBatch(await connect(platform().factory), batch);
      } catch (error) {
        throw fail('the batch was not saved, nothing of it was applied', error);
      }
    },
    async close(): Promise<void> {
      closes++;
      const held = owner;
      owner = undefined;
      db?.close();
      db = undefined;
      await Promise.all([held?.release(), owners?.releaseAll()]);
    },
  };
}

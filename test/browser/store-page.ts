/**
 * What `indexeddb-store.test.ts` adds to the test page (`page.ts`): the built
 * `indexedDbStore` from `/dist/browser.js`, one store per name per page load, and
 * `window.t`, the few calls a test makes into the page. Plain JavaScript in a string, so
 * that nothing of the test runner's transforms reaches the page.
 */
import type { Page } from 'playwright-core';
import type { StoreBatch, StoreOpening } from '../../adapters/store.js';

/**
 * `window.t`: what a test calls in the page (serializable in and out). `name` is a store
 * name, which also reaches the page's own store of that name; `make()` gives more.
 */
export interface StorePage {
  /** `open()` of the page's store `name`; a busy answer without its promise. */
  open(name: string): Promise<StoreOpening | { status: 'busy' }>;
  /** Whether the `released` of the last busy answer for `name` resolved. */
  released(name: string): boolean;
  /** `cancel()` of the last busy answer for `name`. */
  cancel(name: string): void;
  /** `write()`: `'ok'`, or the error's name and message. */
  write(name: string, batch: StoreBatch): Promise<string>;
  close(name: string): Promise<void>;
  /** Put one record straight into the store's database, bypassing every check. */
  raw(name: string, store: string, key: string, value: unknown): Promise<void>;
  /** A new store with these options (no default filled in): `open()`'s error, if any. */
  openWith(options: Record<string, unknown>): Promise<string>;
  /** Another store object for `name`; the key the calls above take to reach it. */
  make(name: string): string;
}

const SCRIPT = `
import { indexedDbStore } from '/dist/browser.js';
const stores = new Map();
const flags = new Map();
const store = (name) => {
  if (!stores.has(name)) stores.set(name, indexedDbStore({ name }));
  return stores.get(name);
};
const text = (e) => e.name + ': ' + e.message + (e.cause ? ' / ' + e.cause.name + ': ' + e.cause.message : '');
let made = 0;
window.t = {
  make(name) {
    const key = name + '#' + ++made;
    stores.set(key, indexedDbStore({ name }));
    return key;
  },
  async open(name) {
    const opening = await store(name).open();
    if (opening.status === 'open') return opening;
    const flag = { released: false, cancel: opening.cancel };
    flags.set(name, flag);
    opening.released.then(() => { flag.released = true; });
    return { status: 'busy' };
  },
  released: (name) => flags.get(name)?.released ?? false,
  cancel: (name) => flags.get(name)?.cancel?.(),
  write: (name, batch) => store(name).write(batch).then(() => 'ok', text),
  close: (name) => store(name).close(),
  raw: (name, storeName, key, value) => new Promise((resolve, reject) => {
    const request = indexedDB.open('holdfast-outbox:' + name);
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      const tx = db.transaction([storeName], 'readwrite');
      tx.objectStore(storeName).put(value, key);
      tx.oncomplete = () => { db.close(); resolve(); };
      tx.onabort = () => reject(tx.error);
    };
  }),
  async openWith(options) {
    try {
      await indexedDbStore(options).open();
      return 'opened';
    } catch (e) {
      return text(e);
    }
  },
};
window.storeReady = true;
`;

/** Load (or reload) the test page at `url` and add `window.t` to it. */
export async function loadStorePage(page: Page, url: string, reload = false): Promise<void> {
  if (reload) await page.reload();
  else await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  await page.addScriptTag({ type: 'module', content: SCRIPT });
  await page.waitForFunction(
    () => (window as unknown as { storeReady?: boolean }).storeReady === true,
  );
}

/** Call `window.t[method](...args)` in the page. */
export function call<K extends keyof StorePage>(
  page: Page,
  method: K,
  ...args: Parameters<StorePage[K]>
): Promise<Awaited<ReturnType<StorePage[K]>>> {
  return page.evaluate(
    ({ method, args }) =>
      (
        (window as unknown as { t: Record<string, (...a: unknown[]) => unknown> }).t[method] as (
          ...a: unknown[]
        ) => unknown
      )(...args),
    { method, args: args as unknown[] },
  ) as Promise<Awaited<ReturnType<StorePage[K]>>>;
}

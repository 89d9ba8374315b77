/**
 * `holdfast/browser`: tie a connection to the page's life. A hidden page is suspended
 * (after an optional grace period) and comes back on a fresh link when visible again, as
 * does a page restored from the back/forward cache or a device back online — because a
 * link that looks open after a sleep may be dead (spec R13).
 */
import {
  type IndexedDbStore as BareIndexedDbStore,
  indexedDbStore as bareIndexedDbStore,
  type IndexedDbStoreOptions,
} from '../adapters/indexeddb-store.js';
import { invalidArgument } from '../machines/errors.js';
import type { Connection } from './connection.js';
import { type DurableStore, withStoreLogic } from './durable.js';

export type {
  IDBFactoryLike,
  IndexedDbStoreOptions,
  LockManagerLike,
} from '../adapters/indexeddb-store.js';

/** `indexedDbStore()`: a durable outbox in IndexedDB, owned by one page at a time. */
export type IndexedDbStore = BareIndexedDbStore & DurableStore;

/**
 * A durable outbox in the page's IndexedDB database `name` (default `'holdfast'`), owned
 * by one page at a time through a Web Lock (durable.md D5; docs/durability.md).
 */
export function indexedDbStore(options: IndexedDbStoreOptions = {}): IndexedDbStore {
  return withStoreLogic(bareIndexedDbStore(options));
}

/** What the listeners read of an event; a DOM `Event` (or `PageTransitionEvent`) fits. */
interface PageEvent {
  readonly type: string;
  readonly persisted?: boolean;
}

interface EventTargetLike {
  addEventListener(type: string, listener: (event: PageEvent) => void): void;
  removeEventListener(type: string, listener: (event: PageEvent) => void): void;
}

/** The part of `window` this helper uses. */
export interface WindowLike extends EventTargetLike {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The part of `document` this helper uses. */
export interface DocumentLike extends EventTargetLike {
  readonly visibilityState: string;
}

export interface PageLifecycleOptions {
  /**
   * How long the page may stay hidden before the connection is suspended, in ms (a tab
   * switched away from for a moment keeps its link).
   * @default 0
   */
  hiddenGraceMs?: number;
  /** @default globalThis.window */
  window?: WindowLike;
  /** @default globalThis.document */
  document?: DocumentLike;
  /** @default Date.now */
  now?: () => number;
}

/** Bind `conn` to the page lifecycle; returns the function that unbinds it. */
export function bindPageLifecycle(
  conn: Pick<Connection, 'suspend' | 'resume'>,
  options: PageLifecycleOptions = {},
): () => void {
  const win = options.window ?? (globalThis as { window?: WindowLike }).window;
  const doc = options.document ?? (globalThis as { document?: DocumentLike }).document;
  if (!win || !doc) {
    throw new TypeError(
      'holdfast/browser: no window or document here: pass the window and document options',
    );
  }
  const grace = options.hiddenGraceMs ?? 0;
  if (!Number.isInteger(grace) || grace < 0) {
    throw invalidArgument('hiddenGraceMs', 'an integer ≥ 0', grace, 'holdfast/browser');
  }
  const now = options.now ?? Date.now;
  let timer: unknown;
  let hiddenAt: number | undefined;
  let suspendedByUs = false;

  const suspend = () => {
    if (timer !== undefined) win.clearTimeout(timer);
    timer = undefined;
    suspendedByUs = true;
    conn.suspend();
  };
  const resume = () => {
    if (timer !== undefined) win.clearTimeout(timer);
    timer = undefined;
    suspendedByUs = false;
    hiddenAt = undefined;
    conn.resume();
  };

  const onVisibility = () => {
    if (doc.visibilityState === 'hidden') {
      hiddenAt = now();
      if (grace === 0) suspend();
      else timer = win.setTimeout(suspend, grace);
      return;
    }
    // Timers may not have run while hidden (mobile sleeps them): trust the clock too.
    const long = hiddenAt !== undefined && now() - hiddenAt >= grace;
    if (suspendedByUs || long) resume();
    else if (timer !== undefined) {
      win.clearTimeout(timer);
      timer = undefined;
    }
    hiddenAt = undefined;
  };
  const onPageHide = () => suspend();
  const onPageShow = (event: PageEvent) => {
    if (event.persisted || suspendedByUs) resume();
  };
  const onOffline = () => suspend();
  const onOnline = () => resume();

  doc.addEventListener('visibilitychange', onVisibility);
  win.addEventListener('pagehide', onPageHide);
  win.addEventListener('pageshow', onPageShow);
  win.addEventListener('offline', onOffline);
  win.addEventListener('online', onOnline);
  return () => {
    if (timer !== undefined) win.clearTimeout(timer);
    doc.removeEventListener('visibilitychange', onVisibility);
    win.removeEventListener('pagehide', onPageHide);
    win.removeEventListener('pageshow', onPageShow);
    win.removeEventListener('offline', onOffline);
    win.removeEventListener('online', onOnline);
  };
}

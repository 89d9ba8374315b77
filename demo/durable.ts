/**
 * --durable: each client keeps its outbox in a `fileStore` folder of its own, under one
 * temporary folder removed at exit, and the chaos kills clients and starts them again.
 *
 * The clients run in this process, so a kill is made to look like SIGKILL from the store's
 * side: `killableStore` wraps the file store, and `kill()` makes every write not begun yet
 * vanish (it never settles and writes nothing, as the process that asked is gone) while a
 * write already in progress finishes (its bytes were handed to the system), then lets the
 * folder's lock go, as the lock of a dead process is free at once. The client then stops
 * its connection without `close()` (`conn.actor.stop()`), forgets its unsettled sends, and
 * starts a new connection on the same folder, which must restore what was saved.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DurableStore, outboxStore } from '../src/index.js';
import { fileStore } from '../src/node.js';

export interface KillableStore {
  /** Hand this to `createConnection`. */
  readonly store: DurableStore;
  /** The process "dies": no write not begun yet happens; the lock is let go. */
  kill(): Promise<void>;
  /** Resolves once the store was let go (closed by its connection, or killed). */
  readonly released: Promise<void>;
}

export function killableStore(path: string): KillableStore {
  const inner = fileStore({ path });
  let dead = false;
  let closing: Promise<void> | undefined;
  let done = () => {};
  const released = new Promise<void>((resolve) => {
    done = resolve;
  });
  const close = () => {
    closing ??= Promise.resolve(inner.close()).then(done, done);
    return closing;
  };
  const never = new Promise<never>(() => {});
  // An app's own OutboxStore around holdfast's: outboxStore() makes it a connection's store.
  const store = outboxStore({
    open: () => (dead ? never : inner.open()),
    write: (batch) => (dead ? never : inner.write(batch)),
    close: () => (dead ? released : close()),
  });
  return {
    store,
    kill() {
      dead = true;
      return close();
    },
    released,
  };
}

/** One temporary folder for the run's stores, removed by `remove()` or, failing that, at exit. */
export async function storeFolders() {
  const root = await mkdtemp(join(tmpdir(), 'holdfast-demo-'));
  const removeNow = () => rmSync(root, { recursive: true, force: true });
  process.once('exit', removeNow);
  return {
    root,
    pathOf: (client: string) => join(root, client),
    async remove() {
      await rm(root, { recursive: true, force: true });
      process.removeListener('exit', removeNow);
    },
  };
}

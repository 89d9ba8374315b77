/**
 * `holdfast/node`: what needs Node's own modules on the client side — `fileStore`, a durable
 * outbox in a folder on disk (durable.md §2, docs/durability.md).
 */
import { fileStore as bareFileStore, type FileStoreOptions } from '../adapters/file-store.js';
import { type DurableStore, withStoreLogic } from './durable.js';

export type { FileStoreOptions } from '../adapters/file-store.js';

/**
 * A durable outbox in the folder `path`, created if missing: an append-only log that
 * survives `SIGKILL` and power loss, owned by one process at a time (docs/durability.md).
 */
export function fileStore(options: FileStoreOptions): DurableStore {
  return withStoreLogic(bareFileStore(options));
}

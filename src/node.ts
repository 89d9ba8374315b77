/**
 * `holdfast/node`: what needs Node's own modules on the client side — `fileStore`, a durable
 * outbox in a folder on disk (durable.md §2, docs/durability.md).
 */
export { type FileStoreOptions, fileStore } from '../adapters/file-store.js';

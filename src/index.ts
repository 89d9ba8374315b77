/**
 * `holdfast`: the public face. `createConnection` for apps; `connectionMachine` and its
 * types for apps that embed the machine; the errors, options and backoff they all use.
 * The machine's own link events stay internal.
 */

export type {
  OutboxStore,
  StoreBatch,
  StoredMessage,
  StoredOutbox,
  StoreOpening,
} from '../adapters/store.js';
export {
  type Backoff,
  defaultBackoff,
  type FullJitterOptions,
  fullJitterBackoff,
} from '../machines/backoff.js';
export { type ConnectionMachine, connectionMachine } from '../machines/connection.machine.js';
export {
  ConnectionError,
  type ConnectionFailure,
  DeliveryError,
  type DeliveryFailure,
  HoldfastError,
  isConnectionError,
  isDeliveryError,
  isHoldfastError,
} from '../machines/errors.js';
export { type ConnectionInput, defaults, type Overflow } from '../machines/options.js';
export type { OutboxEntry } from '../machines/outbox.js';
export type { ConnectionParentEvent } from '../machines/parent.js';
export type {
  ConnectionContext,
  ConnectionEmitted,
  ConnectionEvent,
  OutgoingMessage,
} from '../machines/types.js';
export type { ClockLike } from './clock.js';
export { type Connection, type ConnectionOptions, createConnection } from './connection.js';
export { type DurableStore, type MemoryStore, memoryStore, outboxStore } from './durable.js';
export * from './types.js';

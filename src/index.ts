export type { LinkCommand, LinkEvent, Verdict } from '../adapters/link-actor.js';
export { type ConnectionMachine, connectionMachine } from '../machines/connection.machine.js';
export type {
  ConnectionContext,
  ConnectionEmitted,
  ConnectionEvent,
  OutgoingMessage,
} from '../machines/types.js';
export {
  type Backoff,
  defaultBackoff,
  type FullJitterOptions,
  fullJitterBackoff,
} from './backoff.js';
export { type Connection, createConnection } from './connection.js';
export {
  ConnectionError,
  type ConnectionFailure,
  DeliveryError,
  type DeliveryFailure,
  HoldfastError,
  isConnectionError,
  isDeliveryError,
  isHoldfastError,
} from './errors.js';
export { type ClockLike, type ConnectionOptions, defaults, type Overflow } from './options.js';
export * from './types.js';

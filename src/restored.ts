/**
 * `createConnection`'s side of restoring (durable.md D3): a restored message has no
 * `send()` in this process, so it gets a promise of its own, settled by its verdict.
 * It comes with a store (`durable.ts`), so an app without one bundles none of it.
 */
import type { Actor } from 'xstate';
import type { ConnectionMachine } from '../machines/connection.machine.js';
import type { DeliveryError } from '../machines/errors.js';
import type { RestoredMessage } from './types.js';

/** The key a store keeps this side under, beside the machine's (`machines/durable.ts`). */
export const RESTORED: unique symbol = Symbol.for('holdfast.restored');

/** The restored messages not settled yet, by id. */
export interface RestoredSends {
  /** Whether a restored message with this id is still pending: its id is taken. */
  has(id: string): boolean;
  /** Settle it: resolved, or rejected with `error`. Nothing if it is not a restored one. */
  settle(id: string, error?: DeliveryError): void;
}

export type TrackRestored = (
  actor: Actor<ConnectionMachine>,
  hand: (messages: RestoredMessage[]) => void,
) => RestoredSends;

const ignore = () => {};

interface Settling {
  resolve(): void;
  reject(error: DeliveryError): void;
}

/** Listen for the machine's `restored` and hand the app each message with its promise. */
export const trackRestored: TrackRestored = (actor, hand) => {
  const pending = new Map<string, Settling>();
  actor.on('restored', ({ messages }) => {
    const handed: RestoredMessage[] = [];
    for (const { id, data } of messages) {
      const settled = new Promise<void>((resolve, reject) => pending.set(id, { resolve, reject }));
      // Also reported through `dropped`: an app that ignores it must not crash.
      settled.catch(ignore);
      handed.push({ id, data, settled });
    }
    hand(handed);
  });
  return {
    has: (id) => pending.has(id),
    settle(id, error) {
      const settling = pending.get(id);
      if (settling === undefined) return;
      pending.delete(id);
      if (error === undefined) settling.resolve();
      else settling.reject(error);
    },
  };
};

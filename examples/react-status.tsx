/**
 * A React component that reads the connection's actor with @xstate/react's useSelector:
 * it re-renders when the top-level state or the outbox size changes, and only then.
 */
import { useSelector } from '@xstate/react';
import type { Connection } from '../src/index.js';

const topLevel = (value: unknown) =>
  typeof value === 'string' ? value : Object.keys(value as object)[0];

export function ConnectionStatus({ conn }: { conn: Connection }) {
  const state = useSelector(conn.actor, (snapshot) => topLevel(snapshot.value));
  const waiting = useSelector(
    conn.actor,
    (snapshot) => snapshot.context.outbox.queue.size + snapshot.context.outbox.inFlight.size,
  );
  return (
    <p data-state={state}>
      {state}
      {waiting > 0 ? ` (${waiting} waiting)` : ''}
    </p>
  );
}

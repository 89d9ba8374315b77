import type { SimulatedClock } from 'xstate';

/**
 * How many timers are pending on a `SimulatedClock`. XState keeps them in a private
 * `timeouts` map; this is the one place that reaches into it.
 */
export function pendingTimers(clock: SimulatedClock): number {
  return (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;
}

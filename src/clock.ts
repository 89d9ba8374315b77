/** The timer API the machine schedules with; XState's `SimulatedClock` is one. */
export interface ClockLike {
  setTimeout(fn: () => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
}

interface Immediate {
  readonly immediate: unknown;
}

const host = globalThis as {
  setImmediate?: (fn: () => void) => unknown;
  clearImmediate?: (id: unknown) => void;
};

/**
 * Real timers, except that a wait of 0 ms runs on the next turn of the event loop
 * (`setImmediate`) where the runtime has one: Node runs `setTimeout(fn, 0)` after 1 ms,
 * and a backoff of 0 is an app asking to retry now. Still a macrotask, never a
 * microtask, so a transport that fails at once cannot starve the event loop.
 */
export const realClock: ClockLike = {
  setTimeout(fn, timeout) {
    if (timeout <= 0 && host.setImmediate !== undefined) {
      return { immediate: host.setImmediate(fn) } satisfies Immediate;
    }
    return setTimeout(fn, timeout);
  },
  clearTimeout(id) {
    if (typeof id === 'object' && id !== null && 'immediate' in id) {
      host.clearImmediate?.((id as Immediate).immediate);
      return;
    }
    clearTimeout(id as ReturnType<typeof setTimeout>);
  },
};

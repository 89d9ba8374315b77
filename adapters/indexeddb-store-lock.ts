/**
 * Ownership of an `indexedDbStore` (rule D5) with the Web Locks API: one exclusive lock
 * per store name, held for as long as the store is open. The browser lets go of a page's
 * locks when the page closes, reloads, navigates away or crashes — so an owner that died
 * never stalls the next one, and there is no timeout to wait out.
 *
 * A lock is held by keeping its request's callback pending: the callback returns a
 * promise that only `release()` settles.
 */

/** The part of `navigator.locks` (a `LockManager`) this store uses. */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode?: 'exclusive'; ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown>;
}

/** A lock this page holds until `release()`, which resolves once the lock is free. */
export interface HeldLock {
  release(): Promise<void>;
}

const noop = () => {};

/**
 * Ask for the exclusive lock `name`. With `ifAvailable`, resolves with `undefined` at once
 * when another holder has it; without, waits for it (until `signal` aborts the wait, which
 * rejects). Rejects when the request is refused (an opaque origin, a bad name).
 */
export function requestLock(
  locks: LockManagerLike,
  name: string,
  options: { ifAvailable?: boolean; signal?: AbortSignal },
): Promise<HeldLock | undefined> {
  return new Promise((resolve, reject) => {
    const done: Promise<unknown> = locks.request(
      name,
      { mode: 'exclusive', ...options },
      (lock) => {
        if (!lock) return resolve(undefined);
        return new Promise<void>((letGo) =>
          resolve({
            release: () => {
              letGo();
              return done.then(noop, noop);
            },
          }),
        );
      },
    );
    // Before the grant this is the refusal (or the abort); after, resolve() was called.
    done.catch(reject);
  });
}

/**
 * The owner lock of one store name, and the hand-over between owners. `acquire()` takes
 * the lock if it is free, else resolves with `busy`: a promise that resolves once this
 * page holds the lock — won by a waiting request, and kept, not dropped, for the next
 * `acquire()` to take at once. Nobody else can slip in between the old owner letting go
 * and the waiting connection opening again. `releaseAll()` withdraws the waits and lets
 * go of a lock won but not yet taken (the owner lock is the store's to release).
 */
export function ownership(locks: LockManagerLike, name: string) {
  let handover: HeldLock | undefined;
  const waits = new Set<AbortController>();

  const waitForIt = (): Promise<void> => {
    const controller = new AbortController();
    waits.add(controller);
    return new Promise((resolve) => {
      requestLock(locks, name, { signal: controller.signal }).then(
        (held) => {
          waits.delete(controller);
          // Won just as releaseAll() withdrew the wait: hand it on to the next in line.
          if (controller.signal.aborted) return void held?.release();
          handover = held;
          resolve();
        },
        () => {
          waits.delete(controller);
          // Aborted by releaseAll(): nobody waits any more. Refused: the next acquire() says why.
          if (!controller.signal.aborted) resolve();
        },
      );
    });
  };

  return {
    async acquire(): Promise<{ held: HeldLock } | { busy: Promise<void> }> {
      const won = handover;
      handover = undefined;
      const held = won ?? (await requestLock(locks, name, { ifAvailable: true }));
      return held ? { held } : { busy: waitForIt() };
    },
    async releaseAll(): Promise<void> {
      for (const controller of waits) controller.abort();
      waits.clear();
      const won = handover;
      handover = undefined;
      await won?.release();
    },
  };
}

/**
 * A simulated `OutboxStore` whose `open()` and `write()` answer when the test says so —
 * or at once, as the test chooses per call — and whose process can crash between any two
 * writes: the model runner (test/model/) and the simulation (sim/) play the durable
 * outbox on it (durable.md §4).
 *
 * What it holds durably (`held`) changes only when a write completes, all or nothing, as
 * the contract says. A process is a `handle()`: `crash()` kills the live one — a write in
 * flight lands or is lost, as the test says, and nothing the dead process asks for later
 * is applied or answered — and frees the store for the next process, as a lock that dies
 * with its process would (D5).
 *
 * `guardWire` wraps a transport so that every message put on the wire is checked, at the
 * moment it is sent, against what the store durably holds (D1).
 */
import type {
  OutboxStore,
  StoreBatch,
  StoredMessage,
  StoredOutbox,
  StoreOpening,
} from '../../adapters/store.js';
import type { OutboundMessage, StreamPosition, Transport } from '../../adapters/transport.js';

/** What the store holds durably. */
export interface Held {
  session: string | undefined;
  reserved: number;
  readonly messages: Map<string, StoredMessage>;
  positions: readonly StreamPosition[];
}

/** A write the store was asked for and has not answered. */
export interface ManualWrite {
  readonly batch: StoreBatch;
  /** Apply the batch durably, then resolve the write. */
  complete(): void;
  /** Reject the write; nothing of the batch is applied. */
  fail(error?: unknown): void;
}

/** An `open()` the store has not answered. */
export interface ManualOpen {
  /** This process owns the store now: answer with what it holds. */
  open(): void;
  /** Another owner has it: answer busy; `release()` lets the process try again. */
  busy(): void;
  /** The store cannot be opened. */
  fail(error?: unknown): void;
}

export interface ManualStoreOptions {
  /** Answer `open()` at once with what the store holds. @default false */
  autoOpen?: boolean;
  /** Which writes complete at once (on a microtask); the rest wait. @default none */
  autoWrite?: (batch: StoreBatch) => boolean;
}

export interface ManualStore {
  /** What the store holds durably now. */
  readonly held: Held;
  /** Every id the store ever held durably. */
  readonly everHeld: ReadonlySet<string>;
  /** The live process's unanswered writes, oldest first. */
  readonly writes: readonly ManualWrite[];
  /** The live process's unanswered opens. */
  readonly opens: readonly ManualOpen[];
  /** Whether a busy answer is waiting for `release()`. */
  readonly waitingForRelease: boolean;
  /** How often the live process let go of the store (`close()`). */
  readonly closes: number;
  /** Whether an `open()` of the live process was answered `open` (it owns the store). */
  readonly owned: boolean;
  /** How often the live process withdrew a busy wait (the answer's `cancel`). */
  readonly cancels: number;
  /** Writes the live process asked for, answered or not. */
  readonly written: number;
  /**
   * A write failed and none completed since: what it was to remove may wait for the next
   * write the connection asks for (the store actor does not retry on its own).
   */
  readonly failedSince: boolean;
  /** Which writes complete at once from now on. */
  autoWrite: (batch: StoreBatch) => boolean;
  /** The store of the live process: pass it as the connection's `store`. */
  readonly store: OutboxStore;
  /** What the store holds, as the next `open()` reads it. */
  snapshot(): StoredOutbox;
  /** End a busy wait: the waiting process calls `open()` again. */
  release(): void;
  /**
   * The live process dies: a write in flight lands (`land`) or is lost; nothing it asks
   * for later is applied or answered. Returns the store of the next process.
   */
  crash(land: boolean): OutboxStore;
  /** Put what a store would hold before the connection starts (a stored outbox). */
  preload(outbox: Partial<StoredOutbox>): void;
}

/** Whether a batch saves some message as sent: the machine waits for it (D1). */
export function savesAsSent(batch: StoreBatch): boolean {
  return (batch.put ?? []).some((message) => message.sent);
}

function apply(held: Held, everHeld: Set<string>, batch: StoreBatch): void {
  held.session = batch.session ?? held.session;
  held.reserved = Math.max(held.reserved, batch.reserved ?? 0);
  for (const message of batch.put ?? []) {
    held.messages.set(message.id, { ...message });
    everHeld.add(message.id);
  }
  for (const id of batch.remove ?? []) held.messages.delete(id);
  if (batch.positions !== undefined) held.positions = [...batch.positions];
}

export function manualStore(options: ManualStoreOptions = {}): ManualStore {
  const held: Held = { session: undefined, reserved: 0, messages: new Map(), positions: [] };
  const everHeld = new Set<string>();
  let writes: ManualWrite[] = [];
  let opens: ManualOpen[] = [];
  let released: (() => void) | undefined;
  let closes = 0;
  let written = 0;
  let failedSince = false;
  let owned = false;
  let cancels = 0;
  // The live process; a crash starts the next one.
  let generation = 0;

  const snapshot = (): StoredOutbox => ({
    session: held.session,
    reserved: held.reserved,
    messages: [...held.messages.values()].map((message) => ({ ...message })),
    positions: [...held.positions],
    problems: [],
  });

  function handle(): OutboxStore {
    const mine = generation;
    const alive = () => mine === generation;
    return {
      open() {
        return new Promise<StoreOpening>((resolve, reject) => {
          if (!alive()) return;
          const pending: ManualOpen = {
            open: () => {
              opens = opens.filter((o) => o !== pending);
              if (!alive()) return;
              owned = true;
              resolve({ status: 'open', outbox: snapshot() });
            },
            busy: () => {
              opens = opens.filter((o) => o !== pending);
              const wait = new Promise<void>((go) => {
                released = go;
              });
              const cancel = () => {
                if (!alive()) return;
                cancels++;
                released = undefined;
              };
              if (alive()) resolve({ status: 'busy', released: wait, cancel });
            },
            fail: (error = new Error('the simulated store cannot be opened')) => {
              opens = opens.filter((o) => o !== pending);
              if (alive()) reject(error);
            },
          };
          opens.push(pending);
          if (options.autoOpen) queueMicrotask(() => pending.open());
        });
      },
      write(batch) {
        return new Promise<void>((resolve, reject) => {
          if (!alive()) return;
          written++;
          let answered = false;
          const pending: ManualWrite = {
            batch,
            complete: () => {
              if (answered || !alive()) return;
              answered = true;
              writes = writes.filter((w) => w !== pending);
              apply(held, everHeld, batch);
              failedSince = false;
              resolve();
            },
            fail: (error = new Error('the simulated store failed the write')) => {
              if (answered || !alive()) return;
              answered = true;
              writes = writes.filter((w) => w !== pending);
              failedSince = true;
              reject(error);
            },
          };
          writes.push(pending);
          if (manual.autoWrite(batch)) queueMicrotask(() => pending.complete());
        });
      },
      async close() {
        if (!alive()) return;
        closes++;
        owned = false;
      },
    };
  }

  const manual: ManualStore = {
    held,
    everHeld,
    get writes() {
      return writes;
    },
    get opens() {
      return opens;
    },
    get waitingForRelease() {
      return released !== undefined;
    },
    get closes() {
      return closes;
    },
    get written() {
      return written;
    },
    get failedSince() {
      return failedSince;
    },
    get owned() {
      return owned;
    },
    get cancels() {
      return cancels;
    },
    autoWrite: options.autoWrite ?? (() => false),
    store: handle(),
    snapshot,
    release() {
      const go = released;
      released = undefined;
      go?.();
    },
    crash(land) {
      // A write in flight was on its way to the disk: it lands whole, or not at all.
      if (land) for (const write of writes) apply(held, everHeld, write.batch);
      generation++;
      writes = [];
      opens = [];
      released = undefined;
      closes = 0;
      written = 0;
      failedSince = false;
      owned = false;
      cancels = 0;
      const next = handle();
      (manual as { store: OutboxStore }).store = next;
      return next;
    },
    preload(outbox) {
      apply(held, everHeld, {
        ...(outbox.session === undefined ? {} : { session: outbox.session }),
        reserved: outbox.reserved ?? 0,
        put: outbox.messages ?? [],
        positions: outbox.positions ?? [],
      });
    },
  };
  return manual;
}

/** A message that went on the wire although the store did not hold it as sent (D1). */
export interface UnsavedSend {
  readonly id: string;
  readonly detail: string;
}

/**
 * `transport` with every `send` checked against `store` at the moment it is made: the
 * store must hold the message, as sent, with the serial it carries (D1). `checking()`
 * says whether the connection keeps its outbox in the store (not after a fallback to
 * memory). What broke is collected in `unsaved`, for the next check to throw.
 */
export function guardWire(
  transport: Transport,
  store: ManualStore,
  checking: () => boolean,
): { transport: Transport; unsaved: UnsavedSend[] } {
  const unsaved: UnsavedSend[] = [];
  const check = (message: OutboundMessage) => {
    if (!checking()) return;
    const stored = store.held.messages.get(message.id);
    const serial = (message as { serial?: number }).serial;
    if (stored === undefined)
      unsaved.push({ id: message.id, detail: 'the store does not hold it' });
    else if (!stored.sent)
      unsaved.push({ id: message.id, detail: 'the store holds it as not yet sent' });
    else if (stored.serial !== serial || stored.json !== message.json)
      unsaved.push({
        id: message.id,
        detail: `the store holds serial ${stored.serial}, the wire carries ${serial}`,
      });
  };
  return {
    unsaved,
    transport: {
      ...transport,
      connect(events, options) {
        const link = transport.connect(events, options);
        return {
          ...link,
          send(message) {
            check(message);
            return link.send(message);
          },
        };
      },
    },
  };
}

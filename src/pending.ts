import type { DeliveryError } from '../machines/errors.js';
import type { OutgoingMessage } from '../machines/types.js';
import type { AbortSignalLike, SendReceipt } from './types.js';

const ignore = () => {};

/** The two receipts, shared: nothing is allocated per confirmation. */
export const CONFIRMED: SendReceipt = Object.freeze({ confirmed: true });
export const WRITTEN: SendReceipt = Object.freeze({ confirmed: false });

/**
 * One `send()`: the message as the machine takes it, and its promise until the verdict.
 * It is its own `tag`, so the machine hands it back with `delivered` or `dropped` and
 * settling it needs no lookup; and being the message itself, a send allocates one object
 * fewer on a path that is hot.
 */
export class PendingSend implements OutgoingMessage {
  readonly promise: Promise<SendReceipt>;
  private settled = false;
  /** Only for sends with a signal: the abort listener to remove once settled. */
  signal: AbortSignalLike | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  private resolvePromise!: (receipt: SendReceipt) => void;
  private rejectPromise!: (error: DeliveryError) => void;

  constructor(
    readonly id: string,
    readonly data: unknown,
    /** `data` as JSON, serialised once at the call. */
    readonly json: string,
    readonly retry: boolean,
    /** The registry this send's id is claimed in, when its id could collide. */
    private readonly claims: Map<string, PendingSend> | undefined,
  ) {
    this.promise = new Promise<SendReceipt>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  get tag(): PendingSend {
    return this;
  }

  /** The first verdict settles it; a later one finds it settled and does nothing. */
  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.claims?.delete(this.id);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    return true;
  }

  resolve(receipt: SendReceipt): void {
    if (this.finish()) this.resolvePromise(receipt);
  }

  reject(error: DeliveryError): void {
    if (!this.finish()) return;
    // Every rejection is also reported through `dropped`; an app that does not await its
    // sends must not crash on an unhandled rejection. Marked here, not per send: the send
    // path is hot.
    this.promise.catch(ignore);
    this.rejectPromise(error);
  }
}

/**
 * The sends still waiting for a verdict whose ids could collide: ids the app gave, and
 * those of a custom `createId`. Ids from `crypto.randomUUID()` cannot collide, so they are
 * never hashed: with 100,000 sends queued, a map lookup per message on the way in and one
 * on the way out was the largest cost of the send path (docs/benchmarks.md).
 */
export class PendingSends {
  private readonly claims = new Map<string, PendingSend>();

  /** Whether a send with this (claimed) id is still waiting for its verdict. */
  has(id: string): boolean {
    return this.claims.has(id);
  }

  open(id: string, data: unknown, json: string, retry: boolean, claim: boolean): PendingSend {
    const pending = new PendingSend(id, data, json, retry, claim ? this.claims : undefined);
    if (claim) this.claims.set(id, pending);
    return pending;
  }
}

/** The `PendingSend` a machine event hands back, if the message came from `send()`. */
export function pendingOf(tag: unknown): PendingSend | undefined {
  return tag instanceof PendingSend ? tag : undefined;
}

/**
 * A server store that answers later, as Redis does, over the memory store: every answer
 * comes on a later turn of the event loop. Knobs make it say `busy`, fail, hold a read, or
 * miss a live event, so the server's handling of each is tested without Redis.
 */

import type { StreamHead } from '../../adapters/transport.js';
import { MemoryServerStore } from '../../src/server/memory-store.js';
import type {
  SerialClaim,
  ServerStore,
  SessionState,
  StoredEvent,
  Unwatch,
} from '../../src/server/store.js';

const later = <T>(make: () => T): Promise<T> =>
  new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        resolve(make());
      } catch (error) {
        reject(error);
      }
    }),
  );

export class SlowStore implements ServerStore {
  readonly inner = new MemoryServerStore();
  /** Claims still to answer `busy`. */
  busy = 0;
  /** Methods that reject, with this error. */
  readonly failing = new Set<keyof ServerStore>();
  /** Live events still to miss (as pub/sub may). */
  miss = 0;
  /** Called before each page a read returns; may wait (a slow page). */
  beforePage: (stream: string, after: number) => Promise<void> | void = () => {};
  /** Pages read, as `stream:after`. */
  readonly pages: string[] = [];
  /** The `lost` of every watch, by stream. */
  private readonly losses = new Map<string, () => void>();

  /** As a subscription that dropped: every watcher is told events may be lost. */
  loseAll(): void {
    for (const lost of this.losses.values()) lost();
  }

  private answer<T>(method: keyof ServerStore, make: () => T): Promise<T> {
    if (this.failing.has(method))
      return later(() => {
        throw new Error(`the store's ${method} failed`);
      });
    return later(make);
  }

  append(stream: string, json: string): Promise<StoredEvent> {
    return this.answer('append', () => this.inner.append(stream, json));
  }
  head(stream: string): Promise<StreamHead> {
    return this.answer('head', () => this.inner.head(stream));
  }
  async read(stream: string, after: number, limit: number): Promise<readonly StoredEvent[]> {
    this.pages.push(`${stream}:${after}`);
    await this.beforePage(stream, after);
    return this.answer('read', () => this.inner.read(stream, after, limit));
  }
  watch(
    stream: string,
    listener: (event: StoredEvent) => void,
    lost: () => void,
  ): Promise<Unwatch> {
    this.losses.set(stream, lost);
    return this.answer('watch', () =>
      this.inner.watch(stream, (event) => {
        if (this.miss > 0) {
          this.miss--;
          return;
        }
        // Pub/sub delivers on a later turn, never inside the publisher's call.
        setImmediate(() => listener(event));
      }),
    );
  }
  session(key: string): Promise<SessionState> {
    return this.answer('session', () => this.inner.session(key));
  }
  claim(key: string, serial: number): Promise<SerialClaim> {
    if (this.busy > 0) {
      this.busy--;
      return later(() => ({ busy: true, retryAfterMs: 1500 }));
    }
    return this.answer('claim', () => this.inner.claim(key, serial));
  }
  commit(key: string, serial: number, refusal?: string): Promise<void> {
    return this.answer('commit', () => this.inner.commit(key, serial, refusal));
  }
  async close(): Promise<void> {}
}

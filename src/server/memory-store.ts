/**
 * The default server store: everything in this process's memory, every answer at once.
 * What one process behind no load balancer needs, and what a restart forgets. Its faults
 * (a log that starts over, sessions forgotten) are for tests and the demo.
 */
import { SessionStore } from '../../adapters/session-store.js';
import type { StreamHead } from '../../adapters/transport.js';
import { positiveOption } from './checks.js';
import type { SerialClaim, ServerStore, SessionState, StoredEvent, Unwatch } from './store.js';
import { StreamLogs } from './stream-logs.js';

export interface MemoryServerStoreOptions {
  /** Events kept per stream for replay. @default 10000 */
  replayWindow?: number;
  /** How long a session is remembered after its last message, in ms. @default 86400000 (24 h) */
  sessionTtlMs?: number;
  /** Most sessions remembered; the least recently active is forgotten first. @default 1000000 */
  maxSessions?: number;
  /** The clock sessions expire by, in ms. @default Date.now */
  now?: () => number;
}

const FRESH: SerialClaim = Object.freeze({ fresh: true });
const TAKEN: SerialClaim = Object.freeze({ fresh: false });

export class MemoryServerStore implements ServerStore {
  private readonly logs: StreamLogs;
  private readonly sessions: SessionStore<string>;
  private readonly listeners = new Map<string, Set<(event: StoredEvent) => void>>();

  constructor(options: MemoryServerStoreOptions = {}) {
    // 0 keeps no replay at all: a resume gets the live events only.
    const window = options.replayWindow === 0 ? 0 : options.replayWindow;
    this.logs = new StreamLogs(window === 0 ? 0 : positiveOption('replayWindow', window, 10_000));
    this.sessions = new SessionStore({
      ttlMs: positiveOption('sessionTtlMs', options.sessionTtlMs, 86_400_000),
      maxSessions: positiveOption('maxSessions', options.maxSessions, 1_000_000),
      now: options.now,
    });
  }

  append(stream: string, json: string): StoredEvent {
    const event = this.logs.append(stream, json);
    const listeners = this.listeners.get(stream);
    if (listeners !== undefined) for (const listener of listeners) listener(event);
    return event;
  }

  head(stream: string): StreamHead {
    return this.logs.head(stream);
  }

  read(stream: string, after: number, limit: number): readonly StoredEvent[] {
    return this.logs.read(stream, after, limit);
  }

  // In one process nothing is missed: `lost` is never called.
  watch(stream: string, listener: (event: StoredEvent) => void): Unwatch {
    let set = this.listeners.get(stream);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(stream, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(stream);
      if (current?.delete(listener) && current.size === 0) this.listeners.delete(stream);
    };
  }

  session(key: string): SessionState {
    return this.sessions.view(key);
  }

  // One process: its intake hands a session's messages over one at a time, so no lease
  // is needed and no claim is ever busy.
  claim(key: string, serial: number): SerialClaim {
    const intake = this.sessions.check(key, serial);
    if (intake.fresh) return FRESH;
    return intake.refusal === undefined ? TAKEN : { fresh: false, refusal: intake.refusal.error };
  }

  commit(key: string, serial: number, refusal?: string): void {
    this.sessions.record(key, serial, refusal === undefined ? undefined : { error: refusal });
  }

  async close(): Promise<void> {}

  /** Fault: one stream's log starts over (emptied, a new epoch, seqs from 1). */
  startOver(stream: string): void {
    this.logs.startOver(stream);
  }

  /** Fault: forget every session, as if each had expired. */
  forgetSessions(): void {
    this.sessions.clear();
  }

  /** Fault: lose every log (new epochs, seqs from 1) and every session. */
  forgetAll(): void {
    this.logs.clear();
    this.sessions.clear();
  }
}

/** The default store, in this process's memory (`createServer` makes one when given none). */
export function memoryServerStore(options?: MemoryServerStoreOptions): MemoryServerStore {
  return new MemoryServerStore(options);
}

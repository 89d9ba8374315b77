/**
 * `holdfast/redis`: the server store in Redis (scale-out.md, docs/scale-out.md), so that
 * many server processes behind a load balancer share stream logs, sessions and live
 * events. Stream logs are Redis Streams with epochs (`stream-log.ts`), sessions are hashes
 * with a lease and a TTL (`sessions.ts`), live events go through pub/sub (`fan-out.ts`).
 * Uses the official `redis` client (node-redis), an optional peer dependency of holdfast
 * that this entry needs; Redis 7.0 or later.
 *
 * ```ts
 * import { createServer } from 'holdfast/server';
 * import { redisStore } from 'holdfast/redis';
 * const store = redisStore({ url: process.env.REDIS_URL });
 * const server = createServer({ store, onMessage: async (m) => save(m) });
 * ```
 */
import { createClient } from 'redis';
import { positiveOption } from '../server/checks.js';
import type {
  SerialClaim,
  ServerStore,
  SessionState,
  StoredEvent,
  Unwatch,
} from '../server/store.js';
import { eventJson, type StreamEvent } from '../server/stream-logs.js';
import { RedisFanOut, type SubscriberLike } from './fan-out.js';
import type { RedisLike } from './scripts.js';
import { RedisSessions } from './sessions.js';
import { RedisStreamLog } from './stream-log.js';

/** The part of a node-redis client this store uses: its commands, and a copy for pub/sub. */
export interface RedisClientLike extends RedisLike {
  duplicate(): RedisClientLike & SubscriberLike & RedisConnectable;
}

interface RedisConnectable {
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'reconnecting', listener: () => void): unknown;
  readonly isOpen?: boolean;
}

export interface RedisStoreOptions {
  /**
   * Where Redis is, as node-redis takes it (`redis://user:pass@host:6379/0`). Ignored
   * with `client`.
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string;
  /**
   * What every key of this store starts with (`<prefix>:m:<stream>`, …): several apps
   * or environments share one Redis under different prefixes.
   * @default 'hf'
   */
  prefix?: string;
  /**
   * The app's own node-redis client, connected. The store uses it for commands and a
   * `duplicate()` of it for pub/sub, and closes only that copy; the app closes its client.
   * @default a client of the store's own, on `url`, closed by `close()`
   */
  client?: RedisClientLike;
  /** Events kept per stream for replay (`XADD … MAXLEN ~`). @default 10000 */
  replayWindow?: number;
  /** How long a session is remembered after its last message, in ms (a key expiry). @default 86400000 (24 h) */
  sessionTtlMs?: number;
  /**
   * How long a process may hand one message of a session to its app before another
   * process may take it again (the lease). A message whose app takes longer, or whose
   * process dies meanwhile, may be handed over twice: docs/scale-out.md, "the crash
   * window". Other processes answer the session's messages `retry` while it holds.
   * @default 5000
   */
  leaseMs?: number;
  /**
   * Told of what the store could not do on its own: a connection to Redis that failed
   * (node-redis reconnects), a message on a channel that is not one of holdfast's.
   * @default console.error
   */
  onError?: (error: unknown) => void;
}

/** The server store in Redis, and `publish` for a process that serves no links (a worker). */
export interface RedisStore extends ServerStore {
  /**
   * Log `data` on `stream` and send it to every process's links watching it: what a
   * worker that only has Redis calls. A stream name out of bounds or data that is not
   * JSON rejects with a `TypeError`.
   */
  publish(stream: string, data: unknown): Promise<StreamEvent>;
}

const ENTRY = 'holdfast/redis';

export function redisStore(options: RedisStoreOptions = {}): RedisStore {
  const prefix = options.prefix ?? 'hf';
  if (typeof prefix !== 'string' || prefix === '' || prefix.includes(':'))
    throw new TypeError(`${ENTRY}: prefix must be a non-empty string without ':'`);
  const replayWindow = positiveOption('replayWindow', options.replayWindow, 10_000);
  const ttlMs = positiveOption('sessionTtlMs', options.sessionTtlMs, 86_400_000);
  const leaseMs = positiveOption('leaseMs', options.leaseMs, 5_000);
  const onError =
    options.onError ?? ((error: unknown) => console.error(`${ENTRY}: store error`, error));
  const own = options.client === undefined;
  const client =
    options.client ??
    (createClient({ url: options.url ?? 'redis://127.0.0.1:6379' }) as unknown as RedisClientLike &
      RedisConnectable);
  const subscriber = client.duplicate();
  // node-redis emits `error` on every failed (re)connection; unheard, it would crash.
  if (own) (client as unknown as RedisConnectable).on('error', onError);
  subscriber.on('error', onError);
  const connecting = Promise.all([
    own ? (client as unknown as RedisConnectable).connect() : undefined,
    subscriber.connect(),
  ]);
  // A failed first connection is the first command's error, not an unhandled rejection.
  connecting.catch(() => {});
  const ready = async () => {
    await connecting;
  };

  const logs = new RedisStreamLog(client, prefix, replayWindow);
  const sessions = new RedisSessions(client, {
    prefix,
    leaseMs,
    ttlMs,
  });
  const fanOut = new RedisFanOut(subscriber, prefix, (problem) =>
    onError(new TypeError(`${ENTRY}: ${problem}`)),
  );
  // While it reconnects, what is published never reaches this process: its links resume.
  subscriber.on('reconnecting', () => fanOut.lostAll());
  let closed = false;

  const store: RedisStore = {
    async append(stream: string, json: string): Promise<StoredEvent> {
      await ready();
      return logs.publish(stream, json);
    },
    async head(stream) {
      await ready();
      return logs.head(stream);
    },
    async read(stream, after, limit) {
      await ready();
      return logs.after(stream, after, limit);
    },
    async watch(stream, listener, lost): Promise<Unwatch> {
      await ready();
      const stop = await fanOut.watch(stream, listener, lost);
      return () => {
        if (!closed) stop().catch(onError);
      };
    },
    async session(key): Promise<SessionState> {
      await ready();
      return sessions.view(key);
    },
    async claim(key, serial): Promise<SerialClaim> {
      await ready();
      return sessions.claim(key, serial);
    },
    async commit(key, serial, refusal, lease) {
      await ready();
      await sessions.commit(key, serial, refusal, lease);
    },
    async publish(stream, data) {
      const json = eventJson(stream, data);
      const event = await store.append(stream, json);
      return { stream, seq: event.seq, data };
    },
    async close() {
      if (closed) return;
      closed = true;
      await connecting.catch(() => {});
      await Promise.all([
        subscriber.isOpen === false ? undefined : subscriber.close(),
        own && (client as unknown as RedisConnectable).isOpen !== false
          ? (client as unknown as RedisConnectable).close()
          : undefined,
      ]);
    },
  };
  return store;
}

export type { SerialClaim, ServerStore, SessionState, StoredEvent, Unwatch };

/**
 * The reference server's public shapes: its options, where it listens, the faults a test
 * or the demo injects, and the server itself, typed by its store.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubConnection, HubOptions } from './hub-types.js';
import type { MemoryServerStore } from './memory-store.js';
import type { ServerStore } from './store.js';
import type { StreamEvent } from './stream-logs.js';

/**
 * The server's options. `S` is the store's type: the memory store unless `store` names
 * another (`ServerStore`, in `hub-types.ts` with the other options of logs and sessions).
 */
export interface ServerOptions<S extends ServerStore = MemoryServerStore>
  extends Omit<HubOptions, 'store'> {
  /**
   * Where stream logs and sessions are kept, and how a publish reaches every process.
   * `redisStore()` from `holdfast/redis` shares them between processes; `replayWindow`,
   * `sessionTtlMs`, `maxSessions` and `now` are then the store's own options, and these
   * here are ignored.
   * @default in this process's memory: `memoryServerStore({ replayWindow, sessionTtlMs, maxSessions, now })`
   */
  store?: S;
  /** Heartbeat interval on every link, in ms. @default 15000 */
  heartbeatMs?: number;
  /**
   * Largest message data, in bytes: a request body or WebSocket frame may be this plus
   * `ENVELOPE_BYTES` (the frame's own fields), so a message the client let through at its
   * own `maxMessageBytes` (the same default) always fits (413 / close 1009 above).
   * @default 1048576
   */
  maxBodyBytes?: number;
  /**
   * Time a request's body may take to arrive, in ms: a body still incomplete then (a
   * slowloris POST) is answered 408 and its connection closed. Also Node's own
   * `requestTimeout` (and, up to 60 s, `headersTimeout`) for the HTTP server, so slow
   * headers are cut off too. Event streams and WebSockets, once open, are not limited.
   * @default 30000
   */
  requestTimeoutMs?: number;
  /**
   * Most live links (WebSocket and SSE event streams together). One more is refused:
   * WebSocket closes with 1013 ("try again later"), `GET B/events` answers 503 with
   * `Retry-After: 5`. POSTs on existing links are not counted.
   * @default no limit
   */
  maxConnections?: number;
  /**
   * Decide whether a request may connect (check a cookie, a header, a token in the URL):
   * asked for every WebSocket upgrade and every HTTP request. Return `true` to allow, a
   * non-empty string to allow and name who it is (the connection's `principal`, which
   * `onMessage` and `canWatch` see), or a promise of either. Anything else refuses, and so
   * does a throw or a rejection (reported through `onError`): WebSocket closes with 4001,
   * HTTP answers 401. It gates connecting, not streams: see `canWatch`.
   * @default everyone is allowed
   */
  authorize?: (request: IncomingMessage) => boolean | string | Promise<boolean | string>;
  /**
   * Answers every HTTP request the protocol does not own (anything outside `/sse/` and
   * `/ws`), so an app can serve its pages from the same origin. A throw or a rejection
   * is reported (`onError`) and answered 500.
   * @default 404
   */
  fallback?: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
}

export interface Listening {
  /** `http://host:port` */
  url: string;
  /** The WebSocket endpoint, `ws://host:port/ws`. */
  wsUrl: string;
  /** The SSE base URL `B`, `http://host:port/sse`. */
  sseUrl: string;
  close(): Promise<void>;
}

/** Faults to inject, for tests and the demo. */
export interface Faults {
  /** Close every link from the server's side. */
  dropAll(): void;
  /** Forget every connection id: SSE sends get 404 on a stream that still looks alive; WebSocket links are closed. */
  forgetConnections(): void;
  /** Fail the next `count` sends (SSE: that HTTP status; WebSocket: the socket drops). */
  failNextSends(count: number, status?: number): void;
  /** Fail the next `count` resumes (SSE: HTTP 500; WebSocket: the socket closes). */
  failNextResumes(count: number): void;
  /** Leave every resume unanswered (`true`) until told otherwise (`false`). */
  hangResumes(on: boolean): void;
  /** Stop heartbeats, events and answers (`true`) or resume them (`false`). */
  silence(on: boolean): void;
  /**
   * Close every link and the port, then listen again on the same port. `keepState: true`
   * keeps the logs and sessions (a server with a durable store); `false` loses them as a
   * real crash of an in-memory server does: every log starts over (a new epoch, seqs
   * from 1), every session is forgotten (`known: false`) and so is every message id.
   * @default { keepState: true }
   */
  restart(options?: { keepState?: boolean }): Promise<void>;
  /** Forget every session, as if each had expired; links stay open. */
  forgetSessions(): void;
  /**
   * One stream's log starts over: emptied, a new epoch, its next event at seq 1. Every
   * link watching it is dropped (an epoch never changes under a live link).
   */
  startOver(stream: string): void;
}

/**
 * The server. `Published` is what `publish` returns: the event at once with the memory
 * store, a promise of it with a store that answers later (`redisStore`).
 */
export interface ReferenceServer<Published = StreamEvent> {
  listen(port?: number, host?: string): Promise<Listening>;
  /**
   * Log `data` on `stream` and send it to every link watching the stream, on every
   * process sharing the store. A stream name out of bounds or data that is not JSON
   * throws a `TypeError` (a rejection, with a store that answers later).
   */
  publish(stream: string, data: unknown): Published;
  /** Live connections, by id. */
  readonly connections: ReadonlyMap<string, HubConnection>;
  readonly faults: Faults;
}

/** What `publish` returns on a server with store `S`: at once on the memory store. */
export type Published<S extends ServerStore> = S extends MemoryServerStore
  ? StreamEvent
  : Promise<StreamEvent>;

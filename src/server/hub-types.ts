/**
 * The reference server's shapes the hub and both wire halves share: a connection as the
 * app sees it, the hub's options, where a reported error came from, and what a wire half
 * hands the hub for one link.
 */
import type { StreamHead } from '../../adapters/transport.js';
import type { IntakeOptions } from './intake.js';
import type { ServerStore } from './store.js';
import type { LoggedEvent } from './stream-logs.js';

/** One client link, whichever wire it came over. */
export interface HubConnection {
  /** Unguessable: 122 random bits from `crypto.randomUUID()`. */
  readonly id: string;
  readonly transport: 'websocket' | 'sse';
  /**
   * Who connected: the string `authorize` returned for this link's WebSocket upgrade or
   * event stream; undefined when it returned `true` or there is no `authorize`.
   */
  readonly principal: string | undefined;
  /**
   * The session the link was opened with (protocol v2: `session=<id>&v=2` in the query);
   * undefined on a v1 link.
   */
  readonly session: string | undefined;
  /** Streams this connection resumed, so `publish` reaches it. */
  readonly streams: ReadonlySet<string>;
  /** Times the client sent a suspend notice (also one that came just after the link closed). */
  readonly suspends: number;
  /** Drop the link from the server's side. */
  drop(): void;
}

/** Where an error the server reports (`onError`) was thrown. */
export type ServerErrorSource =
  | 'authorize'
  | 'canWatch'
  | 'onMessage'
  | 'fallback'
  | 'websocket'
  | 'http'
  | 'store';

export interface ServerErrorContext {
  /**
   * `authorize`, `canWatch`, `fallback`: the app's hook threw or rejected. (`onMessage`
   * refusing, by a throw or a rejected promise, is a `rejected` verdict, not an error.)
   * `websocket`, `http`: handling a frame or a request failed. `store`: the server store
   * did not answer (the message or resume it was for is tried again by the client).
   */
  readonly during: ServerErrorSource;
  /** The connection it concerns, where there is one. */
  readonly connectionId?: string;
}

export interface HubOptions {
  /** Where stream logs and sessions are kept (`ServerOptions.store`). @default in memory */
  store?: ServerStore;
  /** Frames kept per stream for replay (memory store). @default 10000 */
  replayWindow?: number;
  /**
   * Message ids remembered to discard duplicates from v1 clients (messages without a
   * serial); a v2 client's messages are deduplicated by session and serial instead.
   * @default 100000
   */
  dedupWindow?: number;
  /**
   * How long a session (protocol v2) is remembered after its last message, in ms: its
   * highest serial taken and its last 1,024 refusals. A session forgotten is "not known"
   * on its next `welcome`, which the client reports (`session-lost`).
   * @default 86400000 (24 h)
   */
  sessionTtlMs?: number;
  /**
   * Most sessions remembered at once; one more forgets the least recently active, so a
   * flood of new sessions cannot grow the server.
   * @default 1000000
   */
  maxSessions?: number;
  /** The clock sessions expire by, in ms (tests inject one). @default Date.now */
  now?: () => number;
  /**
   * Called once per message, in arrival order, with the connection it came on (its
   * `principal` says who sent it): once per (principal, session, serial) for a v2 client,
   * while the server remembers the session, and once per id (within `dedupWindow`) for a
   * v1 client. A v2 message carries its `session` and `serial`. Throw to refuse the
   * message: the client is told `rejected` with the error's message (a v2 duplicate of
   * it gets the same answer). Return a promise to have the message confirmed only once
   * it resolves (a rejection refuses it like a throw): the session's next message, and a
   * resend of this one, wait for it, so the app sees a session's messages one at a time,
   * in order, and each once. A promise that never settles holds its session's messages.
   */
  onMessage?: IntakeOptions<HubConnection>['onMessage'];
  /**
   * May this connection watch this stream? Asked for every stream a resume names, before
   * anything is replayed; only `true` (or a promise of `true`) allows. One refusal refuses
   * the whole resume: WebSocket closes with 4003 naming the stream, `POST B/resume`
   * answers 403 naming it, and the connection watches nothing new. A throw or a rejection
   * is reported (`onError`) and fails the resume (close 1011 / HTTP 500; the client
   * reconnects). Frames after a resume wait for its answer, so order is kept.
   * @default every stream is allowed
   */
  canWatch?: (connection: HubConnection, stream: string) => boolean | Promise<boolean>;
  /**
   * Most streams one connection may watch. A resume that would take it past this is
   * refused (WebSocket close 1008, HTTP 400, naming the limit) and watches nothing new.
   * @default 1000
   */
  maxStreamsPerConnection?: number;
  /**
   * Most bytes written to one link and not yet taken by its peer (WebSocket
   * `bufferedAmount`, SSE `writableLength`). Checked before every write, replays
   * included: a link that stays over it for 5 s, or goes past 4 × it at once, is dropped,
   * and the client resumes from its position on a new link, so nothing is lost.
   * @default 4194304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Told of every error the server catches so it can keep serving: a hook of the app's
   * that threw, or a frame or request whose handling failed (that socket closes with
   * 1011, that request answers 500). Whatever it throws is ignored.
   * @default console.error
   */
  onError?: (error: unknown, context: ServerErrorContext) => void;
}

/** What a wire half hands the hub for one link. */
export interface WireLink {
  readonly transport: 'websocket' | 'sse';
  /** This wire's event frame, built around the event's stored JSON. */
  eventFrame(event: LoggedEvent): string;
  /** This wire's heartbeat frame. */
  readonly pingFrame: string;
  /** This wire's `stream` frame (protocol v2), written to a link opened with a session. */
  streamFrame?(head: StreamHead): string;
  /** Bytes written to the link and not yet taken by the peer. */
  buffered(): number;
  /** Write one frame's text. */
  write(text: string): void;
  /** End the link from the server's side. */
  drop(): void;
}

/**
 * The transport contract (spec §5).
 *
 * A transport is a factory of links. It only moves bytes: it keeps no queue, runs no
 * retry of its own and decides nothing about when to send. The connection machine owns
 * the link as a child actor and owns the outbox; a transport reports what happened and
 * answers what it was asked.
 *
 * Third parties implement this interface for their own wire. `adapters/memory.ts` is
 * the reference implementation.
 */

/** The last sequence number the client has seen on one stream. */
export interface StreamPosition {
  /** The stream's name, as the server knows it. */
  readonly stream: string;
  /** The last sequence number seen; the server replays everything after it. 0 = nothing seen. */
  readonly seq: number;
  /**
   * The epoch of the stream's log that `seq` counts in (protocol v2), when the client has
   * seen one: a server whose log for the stream has another epoch started it over.
   */
  readonly epoch?: string;
}

/** What a v2 server says of a stream before it replays it (protocol v2, `stream` frame). */
export interface StreamHead {
  readonly stream: string;
  /** The epoch of the stream's log: it changes whenever the log starts over. 1–64 chars. */
  readonly epoch: string;
  /** The last seq in the log; 0 when it is empty. */
  readonly head: number;
}

/** What the machine tells a transport about the link it asks for. */
export interface LinkOptions {
  /**
   * The connection's session id (protocol v2): a transport that speaks v2 sends it with
   * the opening of the link (`session=<id>&v=2` in the query). 16–128 chars of
   * `[A-Za-z0-9_-]`.
   */
  readonly session: string;
}

/** One application message on its way to the server. */
export interface OutboundMessage {
  /**
   * The message id. It never changes across resends, so the server can discard a
   * duplicate it has already handled (rule R7).
   */
  readonly id: string;
  /**
   * The message's serial (protocol v2): an integer ≥ 1, increasing in the order the app
   * called `send()`, kept across resends. A v2 server takes each serial of a session once.
   */
  readonly serial: number;
  /** The application payload, passed through untouched. */
  readonly data: unknown;
  /**
   * `data` serialised to JSON once, when the app called `send()` (and checked there).
   * A transport that speaks JSON puts this on the wire instead of serialising `data`
   * again; `data` stays the app's own value for transports that do not.
   */
  readonly json: string;
  /**
   * `false` for a notice the app sent with `retry: false` (rule R9): it is put on the
   * wire at most once and never resent, whatever the outcome (the machine drops it on any
   * failure). A transport may route such a message differently (a fire-and-forget
   * endpoint, a beacon). `true` for every other message.
   */
  readonly retry: boolean;
}

/** One application frame from the server. */
export interface InboundFrame {
  /**
   * The stream this frame belongs to, if it belongs to one: only together with `seq` (a
   * frame with one of the two and not the other breaks the protocol).
   */
  readonly stream?: string;
  /** The frame's sequence number on `stream`; with `stream`, it moves that stream's position. */
  readonly seq?: number;
  /** The application payload, passed through untouched. */
  readonly data: unknown;
}

/**
 * What the server made of one send. `httpStatus` is the HTTP status of the answer that
 * decided it, where the wire has one; the app sees it as `ConnectionError.status`.
 */
export type SendOutcome =
  /** The server has the message. */
  | { readonly status: 'ok' }
  /**
   * The server no longer knows this link (e.g. HTTP 404): resend on a new link, after the
   * backoff, like `retry` (the app sees a `stale` error instead of `link`).
   */
  | { readonly status: 'stale'; readonly httpStatus?: number }
  /**
   * A transient failure (5xx, 429, network error, timeout): resend on a new link, not
   * before `retryAfterMs` (a `Retry-After` the server sent) where given.
   */
  | {
      readonly status: 'retry';
      readonly error?: unknown;
      readonly httpStatus?: number;
      readonly retryAfterMs?: number;
    }
  /** The server refused this message for good (HTTP 400/413/422, a nack). */
  | { readonly status: 'rejected'; readonly error?: unknown; readonly httpStatus?: number };

/** Why a link is gone. */
export interface LinkClose {
  /** A close code, where the wire has one (WebSocket close codes). */
  readonly code?: number;
  /** The HTTP status that ended the link, where the wire has one (an event stream's 401). */
  readonly httpStatus?: number;
  /** A human-readable reason from the wire or the adapter. */
  readonly reason?: string;
  /** The underlying error, where there is one. */
  readonly error?: unknown;
  /**
   * The server refused this client for good (auth refused, protocol version): the
   * connection closes at once instead of retrying (rule R17).
   */
  readonly fatal?: boolean;
  /**
   * The peer broke the wire protocol (malformed or unexpected input): reported to the app
   * as a `protocol` error; the connection reconnects unless `fatal`.
   */
  readonly protocol?: boolean;
  /**
   * The server refused this client's credentials (HTTP 401/403, close 4001/4003): the
   * connection tries once more at once, with fresh credentials (the transport calls its
   * `url` / `headers` functions again), and closes as `auth` only when that link is
   * refused too.
   */
  readonly auth?: boolean;
  /** Wait at least this long before the next attempt (a `Retry-After` from the server). */
  readonly retryAfterMs?: number;
}

/** What the server said when it greeted a link. */
export interface LinkWelcome {
  /**
   * How often the server sends a sign of life, in ms. The machine allows at least twice
   * this much silence before it calls the link dead.
   */
  readonly heartbeatMs?: number;
  /**
   * What a v2 server remembers of this connection's session: `known`, and the highest
   * serial it has taken (`handled`). Absent from a v1 server: the client then works as
   * in v1.
   */
  readonly session?: { readonly known: boolean; readonly handled: number };
}

/** How a link reports what happens to it. The machine supplies these; a link calls them. */
export interface LinkEvents {
  /**
   * The server greeted this link; it is usable (resume, then send). Called at most once.
   * `welcome` carries what the greeting said (the server's heartbeat interval).
   */
  open(welcome?: LinkWelcome): void;
  /**
   * One application frame arrived. Also counts as a sign of life. Only after `open`: a
   * frame before the greeting breaks the protocol (report `close` with `protocol: true`);
   * the machine ignores one that comes anyway.
   */
  message(frame: InboundFrame): void;
  /** A sign of life that is not a frame (a ping). */
  alive(): void;
  /**
   * A v2 server's `stream` frame: the epoch and head of a stream's log, sent before it
   * replays that stream on a resume. Counts as a sign of life.
   */
  stream(head: StreamHead): void;
  /** The link is gone. Called at most once, and nothing is called after it. */
  close(info: LinkClose): void;
}

/** One link: a single physical connection attempt and its life. */
export interface Link {
  /**
   * Ask the server to replay every stream after the given positions, and resolve once
   * it has: where the replay and the answer share one ordered wire (WebSocket), the
   * replayed frames arrive through `message` before this resolves; where they travel
   * apart (an SSE stream and a POST), some may come after, and the machine takes them in
   * any state that holds the link. No send goes on the link before this resolves (R2).
   * Rejects when the server refused or the link failed; an error with a numeric
   * `httpStatus` (the HTTP status of the refusal) reaches the app as
   * `ConnectionError.status`. Called right after `open` with every watched stream (at
   * most 100 per call, calls one after another; not at all when none is watched), and
   * with one stream when the app watches it later — that call may overlap another
   * resume and sends.
   */
  resume(positions: readonly StreamPosition[]): Promise<void>;
  /**
   * Put one message on the wire and resolve with the server's verdict. Never rejects:
   * a failure is an outcome (`retry`, or `stale` when the link closed before the
   * server confirmed). Called in the order the app sent, at most `maxInFlight`
   * unconfirmed at once.
   */
  send(message: OutboundMessage): Promise<SendOutcome>;
  /**
   * Tell the server this client is going to sleep (so it may hold its state longer).
   * Fire-and-forget: sent at most once per suspend and never retried. `close()` follows
   * in the same tick: it must not cancel the notice in flight. Optional.
   */
  suspend?(positions: readonly StreamPosition[]): void;
  /**
   * Tell the server to stop sending these streams on this link (protocol v2). At most 100
   * streams per call. Fire-and-forget, like `suspend`. Optional.
   */
  unwatch?(streams: readonly string[]): void;
  /** Close the link. After this returns no `LinkEvents` callback fires. Idempotent. */
  close(): void;
}

/** A factory of links. */
export interface Transport {
  /**
   * Start opening a link and return it at once. Report what happens through
   * `events`; never throw (a failure to connect is `events.close`).
   */
  connect(events: LinkEvents, options?: LinkOptions): Link;
  /**
   * How many sends may be unconfirmed at once on one link (1 = one at a time).
   * An integer ≥ 1 or `Infinity`. The machine hands a window's sends over in one
   * synchronous batch, in order: a wire that carries each on its own request (one HTTP
   * POST per message) reorders them unless the transport serialises them or keeps 1.
   * @default 1
   */
  readonly maxInFlight?: number;
  /**
   * What an `ok` outcome of `send` means. `'confirmed'`: the server has the message (an
   * ack, an HTTP 2xx). `'written'`: only that it left this process — a wire with no acks
   * (a plain WebSocket server). The connection then tells the app the truth: such a
   * `send()` resolves with `{ confirmed: false }`, and a link that ends after such writes
   * (lost, suspended, replaced or closed) is reported as an `unconfirmed` error counting
   * them, since any of them may never have arrived. Such a transport writes nothing
   * more on a link after a write failed: the machine requeues what follows a failed
   * verdict, and a message written after it would be written twice.
   * @default 'confirmed'
   */
  readonly delivery?: 'confirmed' | 'written';
}

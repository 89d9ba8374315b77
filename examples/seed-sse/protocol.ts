/**
 * The seed app's wire: an event stream for what the server says, one POST for each thing
 * the client says. It is not holdfast's protocol (docs/protocol.md) but an existing
 * backend's, which `transport.ts` adapts to holdfast and `server.ts` plays in miniature.
 * The names and bodies live here once so the two cannot drift apart; a real backend
 * would have them in its own docs.
 */

export const Path = {
  /** `GET`: the event stream, `text/event-stream`. */
  events: '/events',
  /** `POST ReconnectBody`: replay sessions after `lastSeq`, then follow them. */
  reconnect: '/reconnect',
  /** `POST SendBody`: one message. */
  send: '/send',
  /** `POST SuspendBody`: the client goes to sleep; `204`. */
  suspend: '/suspend',
} as const;

/** The stream's named events (`event: <name>`); each `data` is one JSON object. */
export const SeedEvent = {
  /** First on every stream: `Connected`. */
  connected: 'connected',
  /** One event of a session's log: `SessionEvent`. */
  message: 'message',
  /** Something not logged, with no seq (a typing indicator): `Notice`. */
  notice: 'notice',
  /** Every event a `POST /reconnect` asked for is on the stream before this: `Replayed`. */
  replayed: 'replayed',
  /** A sign of life as an event; some servers send a `: comment` instead (docs/transports.md). */
  heartbeat: 'heartbeat',
} as const;

export interface Connected {
  /** Names this stream in every POST; a new stream gets a new one. */
  readonly connectionId: string;
  /** How often the server says it is alive. */
  readonly heartbeatMs: number;
}

export interface SessionEvent {
  readonly sessionId: string;
  /** 1, 2, 3, … per session. */
  readonly seq: number;
  readonly payload: unknown;
}

export interface Notice {
  /** The session it is about, if any: a label, not a position. */
  readonly sessionId?: string;
  readonly text: string;
}

export interface Replayed {
  /** The `requestId` of the reconnect it ends. */
  readonly requestId: string;
}

export interface SessionPosition {
  readonly sessionId: string;
  /** The last seq the client has; the server replays what comes after. */
  readonly lastSeq: number;
}

/** `200` once replayed (after the `replayed` event); `404` unknown connection. */
export interface ReconnectBody {
  readonly connectionId: string;
  readonly requestId: string;
  readonly sessions: readonly SessionPosition[];
}

/**
 * `200` handled (also for an id handled before); `404` unknown connection; `422` refused;
 * `503` try again later, maybe with `Retry-After` in seconds.
 */
export interface SendBody {
  readonly connectionId: string;
  /** The same on every resend, so the server handles a message once. */
  readonly id: string;
  readonly payload: unknown;
}

/** `204`, also for a connection whose stream closed moments ago; `404` unknown connection. */
export interface SuspendBody {
  readonly connectionId: string;
  readonly sessions: readonly SessionPosition[];
}

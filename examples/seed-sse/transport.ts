/**
 * A holdfast transport for the seed app's SSE + POST wire (`protocol.ts`), the worked
 * example of docs/transports.md. It translates and moves bytes; the connection machine
 * decides the rest. So it keeps no queue, retries nothing and runs no timer: the
 * machine's connect, resume, ack and heartbeat timeouts cover a request that hangs, by
 * closing the link, and `close()` aborts it.
 */
import type {
  Link,
  LinkClose,
  LinkEvents,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
  Transport,
} from '../../src/index.js';
import {
  type Connected,
  type Notice,
  Path,
  type ReconnectBody,
  type Replayed,
  SeedEvent,
  type SessionEvent,
  type SuspendBody,
} from './protocol.js';
import type {
  EventSourceConstructorLike,
  EventSourceLike,
  FetchLike,
  FetchResponseLike,
} from './web.js';

export interface SeedTransportOptions {
  /** The server's base URL: the transport uses `${url}/events`, `${url}/send`, … */
  url: string;
  /** Browsers: `EventSource`; Node 20: the `eventsource` package's. */
  EventSource: EventSourceConstructorLike;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
}

export function seedTransport(options: SeedTransportOptions): Transport {
  const fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  return {
    // One POST per message, and the server handles POSTs as they arrive: two in flight
    // could be handled in either order. Serialising them here would still cost a round
    // trip each, so a larger window buys nothing (docs/transports.md, "maxInFlight").
    maxInFlight: 1,
    connect: (events) => openLink(options, fetch, events),
  };
}

const positionsOf = (positions: readonly StreamPosition[]) =>
  positions.map(({ stream, seq }) => ({ sessionId: stream, lastSeq: seq }));

async function outcomeOf(answer: FetchResponseLike): Promise<SendOutcome> {
  // Read the body even when it says nothing: Node's fetch keeps the socket until then.
  const text = await answer.text().catch(() => '');
  const httpStatus = answer.status;
  if (httpStatus === 200) return { status: 'ok' };
  // The server forgot this connection: the machine opens a new link and resends there.
  if (httpStatus === 404) return { status: 'stale', httpStatus };
  if (httpStatus === 400 || httpStatus === 413 || httpStatus === 422)
    return { status: 'rejected', httpStatus, error: text };
  // 503 and anything else: resend on a new link, not before a `Retry-After` in seconds.
  const seconds = Number(answer.headers.get('Retry-After'));
  return { status: 'retry', httpStatus, ...(seconds > 0 ? { retryAfterMs: seconds * 1000 } : {}) };
}

function openLink(options: SeedTransportOptions, fetch: FetchLike, events: LinkEvents): Link {
  let connectionId: string | undefined;
  let done = false;
  let requests = 0;
  /** What `close()` aborts: sends and reconnects, never a suspend notice. */
  const abortable = new Set<AbortController>();
  /** Reconnects waiting for their `replayed` event, by request id. */
  const replays = new Map<string, { resolve(): void; reject(error: Error): void }>();
  let source: EventSourceLike | undefined;

  /** The link is over: nothing is reported after this, and at most one `close`. */
  const end = (info?: LinkClose) => {
    if (done) return;
    done = true;
    source?.close();
    for (const controller of abortable) controller.abort();
    for (const replay of replays.values()) replay.reject(new Error('the link closed'));
    if (info) events.close(info);
  };
  const post = async (path: string, body: string, canAbort = true) => {
    const controller = new AbortController();
    if (canAbort) abortable.add(controller);
    try {
      const { signal } = controller;
      const headers = { 'Content-Type': 'application/json' };
      return await fetch(`${options.url}${path}`, {
        method: 'POST',
        headers,
        body,
        signal,
        redirect: 'error',
      });
    } finally {
      abortable.delete(controller);
    }
  };
  /** A named event's JSON, handled; nothing the server sends may throw into EventSource. */
  const on = <T>(type: string, handle: (data: T) => void) =>
    source?.addEventListener(type, (event) => {
      if (done) return;
      try {
        // Only `connected` may come first, and only once (LinkEvents: nothing before open).
        if ((type === SeedEvent.connected) !== (connectionId === undefined))
          throw new Error(`${type} ${connectionId ? 'after' : 'before'} connected`);
        handle(JSON.parse(String(event.data)) as T);
      } catch (error) {
        end({ reason: `a bad ${type} event`, protocol: true, error });
      }
    });

  try {
    source = new options.EventSource(`${options.url}${Path.events}`);
  } catch (error) {
    // connect() never throws: a failure to connect is a close, after connect() returned.
    queueMicrotask(() => end({ reason: 'the EventSource constructor threw', error }));
  }
  on<Connected>(SeedEvent.connected, ({ connectionId: id, heartbeatMs }) => {
    connectionId = id;
    events.open({ heartbeatMs });
  });
  on<SessionEvent>(SeedEvent.message, ({ sessionId, seq, payload }) =>
    events.message({ stream: sessionId, seq, data: payload }),
  );
  // No seq, so no stream either: a stream without a seq is a protocol error to the machine.
  on<Notice>(SeedEvent.notice, (notice) => events.message({ data: notice }));
  on(SeedEvent.heartbeat, () => events.alive());
  on<Replayed>(SeedEvent.replayed, ({ requestId }) => replays.get(requestId)?.resolve());
  // The machine decides when to reconnect, not EventSource's own retry: the first error ends
  // the link. The `eventsource` package puts the HTTP status of a refused stream in `code`.
  source?.addEventListener('error', (event) => {
    const httpStatus = typeof event.code === 'number' ? { httpStatus: event.code } : {};
    end({ reason: 'the event stream failed', ...httpStatus });
  });

  return {
    async resume(positions: readonly StreamPosition[]) {
      if (done || connectionId === undefined) throw new Error('the event stream is not open');
      const requestId = String(++requests);
      const replayed = new Promise<void>((resolve, reject) =>
        replays.set(requestId, { resolve, reject }),
      );
      replayed.catch(() => {}); // Awaited below, unless the POST fails first.
      try {
        const body: ReconnectBody = { connectionId, requestId, sessions: positionsOf(positions) };
        const answer = await post(Path.reconnect, JSON.stringify(body));
        await answer.text().catch(() => '');
        if (answer.status !== 200) {
          const error = new Error(`POST /reconnect answered HTTP ${answer.status}`);
          throw Object.assign(error, { httpStatus: answer.status });
        }
        // The replay travels on the event stream, not in this answer: done when it is read.
        await replayed;
      } finally {
        replays.delete(requestId);
      }
    },
    async send(message: OutboundMessage): Promise<SendOutcome> {
      if (done || connectionId === undefined) return { status: 'stale' };
      // `json` is the app's data serialised once, at send(): it goes on the wire as it is.
      // `retry: false` needs nothing here: the machine never resends such a message.
      const id = JSON.stringify(message.id);
      const body = `{"connectionId":${JSON.stringify(connectionId)},"id":${id},"payload":${message.json}}`;
      try {
        return await outcomeOf(await post(Path.send, body));
      } catch (error) {
        // No answer: the server may have handled it. Resent with the same id, handled once.
        return { status: 'retry', error };
      }
    },
    suspend(positions: readonly StreamPosition[]) {
      if (done || connectionId === undefined) return;
      const body: SuspendBody = { connectionId, sessions: positionsOf(positions) };
      // Not abortable: the machine calls close() right after this, in the same tick.
      post(Path.suspend, JSON.stringify(body), false)
        .then((answer) => answer.text())
        .catch(() => {});
    },
    close: () => end(),
  };
}

/**
 * `holdfast/sse`: wire protocol v2 over Server-Sent Events plus HTTP POST
 * (docs/protocol.md), and v1 with a server that speaks only v1. `B/events` carries the
 * server's frames; `B/resume`, `B/send`, `B/suspend` and `B/unwatch` carry the client's.
 * A resume resolves once its replay came: at its `resumed` event, where the server promised
 * one (the POST's answer and the event stream are two connections, in no set order).
 * Moves bytes only: sends the machine put on the wire are batched into one POST at a time,
 * in order; nothing is retried here. With a session (`LinkOptions`), `B/events` is asked
 * with `session=<id>&v=2` in its query; a v1 server's welcome has no `session`, and the
 * link then posts it nothing v1 does not know (no `unwatch`).
 *
 * Auth: browsers' EventSource cannot set headers, so `B/events` is authorised by a cookie
 * (`withCredentials` for another origin) or a token in `url` (its query string goes on
 * every request); the POSTs also carry `headers`, which may be an async function so a
 * refreshed token is used every time. A 401/403 on any request ends the link as `auth`.
 *
 * Nothing a server sends can throw out of an `EventSource` listener or a `fetch`
 * continuation: an event or answer not of the protocol's shape, and as a last line any
 * exception while handling one, is a `protocol` close of the link.
 *
 * This file holds the transport, its options and the event stream; the POSTs, from the
 * request to the outcome of a batch, are `adapters/sse-post.ts`.
 */
import { guardListener, invalidArgument, missingGlobal } from './describe.js';
import {
  eventFields,
  isAuthStatus,
  isRetryAfterStatus,
  parseFrame,
  SseEvent,
  SsePath,
} from './protocol.js';
import {
  endpoint,
  type FetchLike,
  type FetchResponseLike,
  openPosts,
  type PostHeaders,
  type RequestConfig,
  retryAfterOf,
  splitUrl,
} from './sse-post.js';
import type { Link, LinkClose, LinkEvents, LinkOptions, Transport } from './transport.js';
import { hasSession, readGreeting, readStreamHead, withSession } from './wire-v2.js';

export type { FetchLike, FetchResponseLike } from './sse-post.js';

/** The part of an EventSource this adapter uses (browsers' and the `eventsource` package's fit). */
export interface EventSourceLike {
  close(): void;
  addEventListener(
    type: string,
    listener: (event: { data?: unknown; code?: number }) => void,
  ): void;
}

/**
 * The init also carries `fetch` (the `eventsource` package's `EventSourceInit.fetch`): the
 * global fetch, watched for the stream's `Retry-After`. Browsers' EventSource ignores it.
 */
export type EventSourceConstructorLike = new (
  url: string,
  init?: { withCredentials?: boolean },
) => EventSourceLike;

export interface SseTransportOptions {
  /**
   * The base URL `B`: the adapter uses `B/events`, `B/resume`, `B/send`, `B/suspend`,
   * `B/unwatch`. A query string in it (a token, say) is kept on every request:
   * `https://h/sse?token=t` → `https://h/sse/events?token=t`, `https://h/sse/send?token=t`
   * (with a session, `B/events?token=t&session=<id>&v=2`).
   */
  url: string;
  /** @default globalThis.EventSource (browsers); on Node pass the `eventsource` package's. */
  EventSource?: EventSourceConstructorLike;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Extra headers for every POST, or a function (sync or async) called for every request. */
  headers?: PostHeaders;
  /** Send cookies to another origin with `B/events`. @default false */
  withCredentials?: boolean;
  /** Messages in one `B/send` POST; also the in-flight window. @default 100 */
  maxBatch?: number;
  /** A POST not answered by then counts as failed (a send: `retry`). @default 10000 */
  requestTimeoutMs?: number;
}

export function sseTransport(options: SseTransportOptions): Transport {
  const ES =
    options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructorLike }).EventSource;
  if (typeof ES !== 'function') {
    throw missingGlobal(
      'holdfast/sse',
      'EventSource (Node)',
      'pass the EventSource option, e.g. EventSource from the eventsource package',
    );
  }
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
  // Browsers throw "Illegal invocation" when fetch is called off its window: bind it.
  const fetchFn = options.fetch ?? globalFetch?.bind(globalThis);
  if (typeof fetchFn !== 'function') {
    throw missingGlobal('holdfast/sse', 'fetch', 'pass the fetch option');
  }
  if (typeof options.url !== 'string' || options.url === '') {
    throw invalidArgument(
      'url',
      'the base URL of the server, a non-empty string',
      options.url,
      'holdfast/sse',
    );
  }
  const maxBatch = options.maxBatch ?? 100;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw invalidArgument('maxBatch', 'an integer ≥ 1', maxBatch, 'holdfast/sse');
  }
  const config = {
    ...splitUrl(options.url),
    ES,
    fetch: fetchFn,
    headers: options.headers,
    withCredentials: options.withCredentials ?? false,
    maxBatch,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
  };
  return {
    maxInFlight: maxBatch,
    connect: (events, linkOptions) => openLink(config, events, linkOptions),
  };
}

/** A transport's settings: the POSTs' and the event stream's. */
type Config = RequestConfig & {
  ES: EventSourceConstructorLike;
  withCredentials: boolean;
};

/** An event's text as a frame: a JSON object, or the problem (as over WebSocket). */
function readEvent(data: unknown) {
  return parseFrame(typeof data === 'string' ? data : '');
}

function openLink(config: Config, events: LinkEvents, linkOptions: LinkOptions | undefined): Link {
  let connectionId: string | undefined;
  /** The welcome carried a `session`: the server speaks v2 (and knows `B/unwatch`). */
  let v2 = false;
  let done = false;
  let source: EventSourceLike | undefined;

  const finish = (info: LinkClose | undefined) => {
    if (done) return;
    done = true;
    try {
      source?.close();
    } catch {
      // A source that refuses to close is dropped all the same.
    }
    posts.abandon();
    if (info) events.close(info);
  };
  /** End the link from a listener or a continuation: nothing may escape, even from `events.close`. */
  const end = (info: LinkClose) => {
    try {
      finish(info);
    } catch {
      // `events.close` threw: the link is over; nothing may escape into EventSource or fetch.
    }
  };
  const protocolError = (reason: string, error?: unknown) =>
    end({ reason, protocol: true, ...(error === undefined ? {} : { error }) });
  /** The last line: an exception while handling server input is a protocol close. */
  const guarded = <A extends unknown[]>(what: string, body: (...args: A) => void) =>
    guardListener(what, body, protocolError);
  // An exception caught elsewhere (in a POST's handling): worded and ended as a listener's.
  const unexpected = (what: string, error: unknown) =>
    guarded(what, () => {
      throw error;
    })();
  /** A 401 / 403 on any request: the server refused the credentials; the link ends as `auth`. */
  const refused = (status: number, what: string) =>
    end({ httpStatus: status, reason: `${what} answered HTTP ${status}`, auth: true });
  // Made before the EventSource, whose listeners may end the link (and abandon the POSTs) at once.
  const posts = openPosts({
    config,
    sessioned: hasSession(linkOptions),
    connectionId: () => connectionId,
    ended: () => done,
    refused,
    protocolError,
    unexpected,
  });

  /**
   * An event's data as a frame, on a link not ended, after the welcome; else undefined (the
   * link ends as a protocol error when it was not already over).
   */
  const frameOf = (event: { data?: unknown } | undefined, what: string) => {
    if (done) return;
    const read = readEvent(event?.data);
    if ('problem' in read) protocolError(`${read.problem} in ${what}`);
    else if (connectionId === undefined) protocolError(`${what} before welcome`);
    else return read.frame;
  };
  const listen = (stream: EventSourceLike) => {
    stream.addEventListener(
      SseEvent.welcome,
      guarded('handling the welcome event', (event) => {
        if (done) return;
        // One link, one welcome: a second one breaks the protocol, as over WebSocket.
        if (connectionId !== undefined) return protocolError('a second welcome');
        const read = readEvent(event?.data);
        if ('problem' in read) return protocolError(`${read.problem} in the welcome event`);
        const welcome = readGreeting(read.frame);
        if ('problem' in welcome) return protocolError(welcome.problem);
        connectionId = welcome.connectionId;
        v2 = welcome.welcome?.session !== undefined;
        if (welcome.welcome) events.open(welcome.welcome);
        else events.open();
      }),
    );
    stream.addEventListener(
      SseEvent.event,
      guarded('handling an event', (event) => {
        const frame = frameOf(event, 'an event');
        // Only stream, seq and data reach the app, as over WebSocket.
        if (frame) events.message(eventFields(frame));
      }),
    );
    stream.addEventListener(
      SseEvent.stream,
      guarded('handling a stream event', (event) => {
        const frame = frameOf(event, 'a stream event');
        if (!frame) return;
        const head = readStreamHead(frame);
        if (typeof head === 'string') return protocolError(head);
        events.stream(head);
      }),
    );
    // The resume marker: every replay of the resume that sent this `resumeId` came before
    // it, on this stream. One for no resume in flight (given up on, or a peer's noise) is
    // ignored: it can settle nothing, and is kept nowhere.
    stream.addEventListener(
      SseEvent.resumed,
      guarded('handling a resumed event', (event) => {
        const resumeId = frameOf(event, 'a resumed event')?.resumeId;
        if (typeof resumeId === 'string') posts.resumed(resumeId);
        else if (!done) protocolError('a resumed event without a resumeId');
      }),
    );
    stream.addEventListener(
      SseEvent.ping,
      guarded('handling a ping', () => {
        if (!done) events.alive();
      }),
    );
    // The machine decides when to reconnect, not EventSource's own retry (which would get a
    // new connection id behind its back): the first error ends the link.
    // The `eventsource` package puts the HTTP status of a refused stream in `code`; it is an
    // HTTP status, not a WebSocket close code, so it goes out as `httpStatus`. Its
    // `Retry-After` (429 / 503) is seen through `streamFetch`; browsers show neither.
    stream.addEventListener(
      'error',
      guarded('handling an error', (event) => {
        if (done) return;
        const code = (event as { code?: unknown } | null | undefined)?.code;
        const status = typeof code === 'number' ? code : undefined;
        if (status !== undefined && isAuthStatus(status))
          return refused(status, 'the event stream');
        const wait =
          status !== undefined && isRetryAfterStatus(status) ? streamRetryAfter : undefined;
        end({
          ...(status === undefined ? {} : { httpStatus: status }),
          reason: 'the event stream failed',
          ...(wait === undefined ? {} : { retryAfterMs: wait }),
        });
      }),
    );
  };
  /** The `Retry-After` of the event stream's answer, where the EventSource lets us see it. */
  let streamRetryAfter: number | undefined;
  const globalFetch = (globalThis as { fetch?: (...args: unknown[]) => Promise<unknown> }).fetch;
  /**
   * The global fetch, as the `eventsource` package would call it anyway, reading the
   * stream's `Retry-After` on the way (browsers' EventSource ignores the option).
   */
  const streamFetch =
    typeof globalFetch === 'function'
      ? (...args: unknown[]) =>
          globalFetch.apply(globalThis, args).then((response) => {
            const answer = response as FetchResponseLike;
            if (isRetryAfterStatus(answer?.status)) streamRetryAfter = retryAfterOf(answer);
            return response;
          })
      : undefined;
  // Not a fresh literal: `fetch` rides along without being in EventSourceConstructorLike.
  const init = {
    withCredentials: config.withCredentials,
    ...(streamFetch === undefined ? {} : { fetch: streamFetch }),
  };
  try {
    source = new config.ES(withSession(endpoint(config, SsePath.events), linkOptions), init);
    listen(source);
  } catch (error) {
    // A URL the EventSource refuses: the link fails, reported after connect() returns.
    const refusedSource = source;
    source = undefined;
    try {
      refusedSource?.close();
    } catch {
      // Gone either way.
    }
    queueMicrotask(() => end({ error, reason: 'the EventSource constructor threw' }));
  }

  return {
    resume: posts.resume,
    send: posts.send,
    suspend: posts.suspend,
    unwatch(streams) {
      // A v1 server does not know `B/unwatch`: it is told nothing (the machine stops
      // delivering the streams all the same).
      if (v2) posts.unwatch(streams);
    },
    close() {
      finish(undefined);
    },
  };
}

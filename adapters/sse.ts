/**
 * `holdfast/sse`: wire protocol v1 over Server-Sent Events plus HTTP POST
 * (docs/protocol.md). `B/events` carries the server's frames; `B/resume`, `B/send` and
 * `B/suspend` carry the client's. Moves bytes only: sends the machine put on the wire are
 * batched into one POST at a time, in order; nothing is retried here.
 *
 * Auth: browsers' EventSource cannot set headers, so `B/events` is authorised by a cookie
 * (`withCredentials` for another origin) or a token in `url` (its query string goes on
 * every request); the POSTs also carry `headers`, which may be an async function so a
 * refreshed token is used every time. A 401/403 on any request ends the link as `auth`.
 *
 * Nothing a server sends can throw out of an `EventSource` listener or a `fetch`
 * continuation: an event or answer not of the protocol's shape, and as a last line any
 * exception while handling one, is a `protocol` close of the link.
 */
import { describeError, invalidArgument, missingGlobal } from './describe.js';
import {
  dataJson,
  eventFields,
  Header,
  HttpStatus,
  isAuthStatus,
  isRejectedStatus,
  isRetryAfterStatus,
  parseFrame,
  ResultStatus,
  readWelcome,
  retryAfterMs,
  SseEvent,
  SsePath,
  type SsePostPath,
  sendOutcomeOfStatus,
} from './protocol.js';
import type {
  Link,
  LinkClose,
  LinkEvents,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
  Transport,
} from './transport.js';

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

export interface FetchResponseLike {
  readonly status: number;
  json(): Promise<unknown>;
  /** Read for `Retry-After` on a 429 / 503, where present. */
  readonly headers?: { get(name: string): string | null };
  /** A response that followed a redirect is never taken as the server's answer (`retry`). */
  readonly redirected?: boolean;
}

export type FetchLike = (
  url: string,
  init: {
    method: 'POST';
    headers: Record<string, string>;
    body: string;
    signal: AbortSignal;
    /** Always `'error'`: a redirect fails the request (`retry`), never confirms a send. */
    redirect: 'error';
  },
) => Promise<FetchResponseLike>;

export interface SseTransportOptions {
  /**
   * The base URL `B`: the adapter uses `B/events`, `B/resume`, `B/send`, `B/suspend`. A
   * query string in it (a token, say) is kept on every request:
   * `https://h/sse?token=t` → `https://h/sse/events?token=t`, `https://h/sse/send?token=t`.
   */
  url: string;
  /** @default globalThis.EventSource (browsers); on Node pass the `eventsource` package's. */
  EventSource?: EventSourceConstructorLike;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Extra headers for every POST, or a function (sync or async) called for every request. */
  headers?:
    | Record<string, string>
    | (() => Record<string, string> | Promise<Record<string, string>>);
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
  // `B?query#hash`: the paths go between B and the query; a fragment is never sent.
  const [, path = '', query = ''] = /^([^?#]*)(\?[^#]*)?/.exec(options.url) ?? [];
  const config = {
    base: path.replace(/\/+$/, ''),
    query,
    ES,
    fetch: fetchFn,
    headers: options.headers,
    withCredentials: options.withCredentials ?? false,
    maxBatch,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
  };
  return { maxInFlight: maxBatch, connect: (events) => openLink(config, events) };
}

type Config = {
  base: string;
  /** The query string of `url` (with its `?`), or empty: kept on every request. */
  query: string;
  ES: EventSourceConstructorLike;
  fetch: FetchLike;
  headers: SseTransportOptions['headers'];
  withCredentials: boolean;
  maxBatch: number;
  requestTimeoutMs: number;
};

/** Shared: an `ok` result carries nothing else. */
const CONFIRMED: SendOutcome = Object.freeze({ status: 'ok' });

/** What one POST got back. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** The `Retry-After` of a 429 / 503, capped. */
  readonly retryAfterMs?: number;
}

/** An event's text as a frame: a JSON object, or the problem (as over WebSocket). */
function readEvent(data: unknown) {
  return parseFrame(typeof data === 'string' ? data : '');
}

/** One field of an answer's body, when the body is an object; never throws on JSON. */
function field(body: unknown, key: string): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)[key]
    : undefined;
}

/** A response header, or undefined when the response has none or refuses to say. */
function header(response: FetchResponseLike, name: string): string | null | undefined {
  try {
    return response.headers?.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The verdicts of a `200` answer to `POST B/send`, by message id; or the problem, when
 * the body is not `{ results: [{ id, status, error? }] }`. A rejection's `error` is kept
 * as it came, whatever its type, as the cause.
 */
function readResults(body: unknown): Map<string, SendOutcome> | string {
  const results = field(body, 'results');
  if (!Array.isArray(results)) return 'POST send answered 200 without a results array';
  const byId = new Map<string, SendOutcome>();
  for (const result of results) {
    if (typeof result !== 'object' || result === null || Array.isArray(result))
      return 'POST send answered a result that is not an object';
    const { id, status, error } = result as Record<string, unknown>;
    if (typeof id !== 'string') return 'POST send answered a result without a string id';
    if (status === ResultStatus.ok) byId.set(id, CONFIRMED);
    else if (status === ResultStatus.rejected) byId.set(id, { status: 'rejected', error });
    else return 'POST send answered a result whose status is neither ok nor rejected';
  }
  return byId;
}

/** The body of one `POST B/send`, around each message's JSON (`dataJson`): nothing serialised again. */
function batchBody(messages: readonly OutboundMessage[]): string {
  const items = messages.map(
    (message) => `{"id":${JSON.stringify(message.id)},"data":${dataJson(message)}}`,
  );
  return `{"messages":[${items.join(',')}]}`;
}

function openLink(config: Config, events: LinkEvents): Link {
  let connectionId: string | undefined;
  let done = false;
  /** Sends the machine put on the wire that are not in a POST yet. */
  const waiting: Array<{ message: OutboundMessage; resolve: (o: SendOutcome) => void }> = [];
  let posting = false;
  /** Once a batch failed as a whole, nothing after it may be handled on this link. */
  let failed: SendOutcome | undefined;
  const requests = new Set<AbortController>();
  let source: EventSourceLike | undefined;

  const finish = (info: LinkClose | undefined) => {
    if (done) return;
    done = true;
    try {
      source?.close();
    } catch {
      // A source that refuses to close is dropped all the same.
    }
    for (const controller of requests) controller.abort();
    for (const { resolve } of waiting.splice(0)) resolve({ status: 'stale' });
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
  const unexpected = (what: string, error: unknown) =>
    protocolError(`${what} failed: ${describeError(error)}`, error);
  const guarded =
    <A extends unknown[]>(what: string, body: (...args: A) => void) =>
    (...args: A) => {
      try {
        body(...args);
      } catch (error) {
        unexpected(what, error);
      }
    };
  /** A 401 / 403 on any request: the server refused the credentials; the link ends as `auth`. */
  const refused = (status: number, what: string) =>
    end({ httpStatus: status, reason: `${what} answered HTTP ${status}`, auth: true });
  const endpoint = (path: string) => `${config.base}${path}${config.query}`;

  const listen = (stream: EventSourceLike) => {
    stream.addEventListener(
      SseEvent.welcome,
      guarded('handling the welcome event', (event) => {
        if (done) return;
        // One link, one welcome: a second one breaks the protocol, as over WebSocket.
        if (connectionId !== undefined) return protocolError('a second welcome');
        const read = readEvent(event?.data);
        if ('problem' in read) return protocolError(`${read.problem} in the welcome event`);
        const welcome = readWelcome(read.frame);
        if ('problem' in welcome) return protocolError(welcome.problem);
        connectionId = welcome.connectionId;
        if (welcome.welcome) events.open(welcome.welcome);
        else events.open();
      }),
    );
    stream.addEventListener(
      SseEvent.event,
      guarded('handling an event', (event) => {
        if (done) return;
        const read = readEvent(event?.data);
        if ('problem' in read) return protocolError(`${read.problem} in an event`);
        if (connectionId === undefined) return protocolError('an event before welcome');
        // Only stream, seq and data reach the app, as over WebSocket.
        events.message(eventFields(read.frame));
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
            if (isRetryAfterStatus(answer?.status))
              streamRetryAfter = retryAfterMs(header(answer, 'Retry-After'), Date.now());
            return response;
          })
      : undefined;
  // Not a fresh literal: `fetch` rides along without being in EventSourceConstructorLike.
  const init = {
    withCredentials: config.withCredentials,
    ...(streamFetch === undefined ? {} : { fetch: streamFetch }),
  };
  try {
    source = new config.ES(endpoint(SsePath.events), init);
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

  /** `untracked`: a fire-and-forget notice, sent even though the link closes right after. */
  async function post(path: SsePostPath, body: string, untracked = false): Promise<Answer> {
    const controller = new AbortController();
    if (!untracked) requests.add(controller);
    const timer = untracked
      ? undefined
      : setTimeout(() => controller.abort(new Error('request timeout')), config.requestTimeoutMs);
    try {
      const extra = typeof config.headers === 'function' ? await config.headers() : config.headers;
      const response = await config.fetch(endpoint(path), {
        method: 'POST',
        headers: {
          ...extra,
          'Content-Type': 'application/json',
          [Header.connectionId]: connectionId ?? '',
        },
        body,
        signal: controller.signal,
        // A redirect is never a confirmation from wherever it points: the request fails.
        redirect: 'error',
      });
      if (response.redirected === true) throw new Error(`POST ${path} was redirected`);
      const { status } = response;
      if (typeof status !== 'number') throw new Error(`POST ${path} answered without a status`);
      const wait = isRetryAfterStatus(status)
        ? retryAfterMs(header(response, 'Retry-After'), Date.now())
        : undefined;
      const parsed =
        status === HttpStatus.noContent
          ? undefined
          : await Promise.resolve()
              .then(() => response.json())
              .catch(() => undefined);
      return { status, body: parsed, ...(wait === undefined ? {} : { retryAfterMs: wait }) };
    } finally {
      clearTimeout(timer);
      requests.delete(controller);
    }
  }

  async function sendBatch(messages: OutboundMessage[]): Promise<SendOutcome[]> {
    let answer: Answer;
    try {
      answer = await post(SsePath.send, batchBody(messages));
    } catch (error) {
      return messages.map(() => ({ status: 'retry', error }));
    }
    if (isAuthStatus(answer.status)) {
      // The credentials were refused: nothing of the batch was handled; resend on a new link.
      refused(answer.status, 'POST send');
      return messages.map(() => sendOutcomeOfStatus(answer.status));
    }
    const error = field(answer.body, 'error');
    if (isRejectedStatus(answer.status) && messages.length > 1) {
      // The server refused the request, not a message (one too big, one malformed), and
      // handled none of it: send them one by one, in order, so only the culprit is refused.
      const outcomes: SendOutcome[] = [];
      for (const message of messages) {
        const [outcome] = done ? [{ status: 'stale' } as const] : await sendBatch([message]);
        outcomes.push(outcome as SendOutcome);
        if (outcome?.status === 'stale' || outcome?.status === 'retry') {
          while (outcomes.length < messages.length) outcomes.push(outcome);
          break;
        }
      }
      return outcomes;
    }
    if (answer.status !== HttpStatus.ok) {
      const outcome = sendOutcomeOfStatus(answer.status, error, answer.retryAfterMs);
      return messages.map(() => outcome);
    }
    const verdicts = readResults(answer.body);
    if (typeof verdicts === 'string') {
      // A body not of the protocol's shape: no verdict in it can be trusted. Each message
      // is resent, with the same id, on the next link (the server discards a duplicate).
      protocolError(verdicts);
      return messages.map(() => ({ status: 'stale' }));
    }
    const outcomes = messages.map(({ id }) => verdicts.get(id));
    if (outcomes.includes(undefined)) {
      // A 200 without a verdict for every message breaks the protocol: end the link; the
      // messages without a verdict are resent (same ids) on the next one.
      protocolError('POST send answered 200 without a result for every message');
    }
    return outcomes.map((o) => o ?? { status: 'stale' });
  }

  async function postWaiting(): Promise<void> {
    try {
      while (waiting.length > 0 && !done && failed === undefined) {
        const batch = waiting.splice(0, config.maxBatch);
        let outcomes: SendOutcome[];
        try {
          outcomes = await sendBatch(batch.map((b) => b.message));
        } catch (error) {
          // The last line: the batch is resent on the next link, never left unanswered.
          unexpected('handling the answer to POST send', error);
          outcomes = batch.map(() => ({ status: 'stale' }));
        }
        for (const [i, { resolve }] of batch.entries()) resolve(outcomes[i] ?? { status: 'stale' });
        const broken = outcomes.find((o) => o.status === 'stale' || o.status === 'retry');
        if (broken) {
          failed = broken;
          for (const { resolve } of waiting.splice(0)) resolve(broken);
        }
      }
    } finally {
      posting = false;
    }
  }

  return {
    async resume(positions: readonly StreamPosition[]) {
      if (done || connectionId === undefined) throw new Error('the event stream is not open');
      const answer = await post(SsePath.resume, JSON.stringify({ streams: positions }));
      if (answer.status !== HttpStatus.ok) {
        if (isAuthStatus(answer.status)) refused(answer.status, 'POST resume');
        throw Object.assign(new Error(`POST resume answered HTTP ${answer.status}`), {
          httpStatus: answer.status,
          ...(answer.retryAfterMs === undefined ? {} : { retryAfterMs: answer.retryAfterMs }),
        });
      }
    },
    send(message: OutboundMessage) {
      if (done) return Promise.resolve({ status: 'stale' });
      if (failed) return Promise.resolve(failed);
      return new Promise<SendOutcome>((resolve) => {
        waiting.push({ message, resolve });
        if (!posting) {
          posting = true;
          // Later sends of the same step join this batch.
          queueMicrotask(() => void postWaiting().catch(() => {}));
        }
      });
    },
    suspend(positions: readonly StreamPosition[]) {
      if (!done && connectionId !== undefined) {
        post(SsePath.suspend, JSON.stringify({ streams: positions }), true).catch(() => {});
      }
    },
    close() {
      finish(undefined);
    },
  };
}

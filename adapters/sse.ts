/**
 * `holdfast/sse`: wire protocol v1 over Server-Sent Events plus HTTP POST
 * (docs/protocol.md). `B/events` carries the server's frames; `B/resume`, `B/send` and
 * `B/suspend` carry the client's. Moves bytes only: sends the machine put on the wire are
 * batched into one POST at a time, in order; nothing is retried here.
 *
 * Auth: browsers' EventSource cannot set headers, so `B/events` is authorised by a cookie
 * (`withCredentials` for another origin) or a token in `url`; the POSTs also carry
 * `headers`, which may be an async function so a refreshed token is used every time.
 */
import { invalidArgument, missingGlobal } from './describe.js';
import {
  eventFields,
  Header,
  HttpStatus,
  isFatalStreamStatus,
  isRejectedStatus,
  parseFrame,
  ResultStatus,
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

export type EventSourceConstructorLike = new (
  url: string,
  init?: { withCredentials?: boolean },
) => EventSourceLike;

export interface FetchResponseLike {
  readonly status: number;
  json(): Promise<unknown>;
}

export type FetchLike = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<FetchResponseLike>;

export interface SseTransportOptions {
  /** The base URL `B`: the adapter uses `B/events`, `B/resume`, `B/send`, `B/suspend`. */
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
  const config = {
    base: options.url.replace(/\/+$/, ''),
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
  ES: EventSourceConstructorLike;
  fetch: FetchLike;
  headers: SseTransportOptions['headers'];
  withCredentials: boolean;
  maxBatch: number;
  requestTimeoutMs: number;
};

/** An event's data as a frame object, or undefined when it is not one (as over WebSocket). */
function parse(data: unknown): Record<string, unknown> | undefined {
  const read = parseFrame(String(data));
  return 'frame' in read ? read.frame : undefined;
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

  const finish = (info: LinkClose | undefined) => {
    if (done) return;
    done = true;
    source.close();
    for (const controller of requests) controller.abort();
    for (const { resolve } of waiting.splice(0)) resolve({ status: 'stale' });
    if (info) events.close(info);
  };

  const source = new config.ES(`${config.base}${SsePath.events}`, {
    withCredentials: config.withCredentials,
  });
  source.addEventListener(SseEvent.welcome, (event) => {
    if (done) return;
    // One link, one welcome: a second one breaks the protocol, as over WebSocket.
    if (connectionId !== undefined) return finish({ reason: 'a second welcome', protocol: true });
    const welcome = parse(event.data);
    if (typeof welcome?.connectionId !== 'string') {
      return finish({ reason: 'the welcome event has no connectionId', protocol: true });
    }
    connectionId = welcome.connectionId;
    events.open();
  });
  source.addEventListener(SseEvent.event, (event) => {
    if (done) return;
    const read = parseFrame(String(event.data));
    if ('problem' in read) return finish({ reason: `${read.problem} in an event`, protocol: true });
    const { frame } = read;
    if (connectionId === undefined)
      return finish({ reason: 'an event before welcome', protocol: true });
    // Only stream, seq and data reach the app, as over WebSocket.
    events.message(eventFields(frame));
  });
  source.addEventListener(SseEvent.ping, () => {
    if (!done) events.alive();
  });
  // The machine decides when to reconnect, not EventSource's own retry (which would get a
  // new connection id behind its back): the first error ends the link.
  // The `eventsource` package puts the HTTP status of a refused stream in `code`; it is an
  // HTTP status, not a WebSocket close code, so it goes out as `httpStatus`.
  source.addEventListener('error', (event) => {
    const status = event.code;
    finish({
      ...(status === undefined ? {} : { httpStatus: status }),
      reason: 'the event stream failed',
      fatal: isFatalStreamStatus(status),
    });
  });

  /** `untracked`: a fire-and-forget notice, sent even though the link closes right after. */
  async function post(
    path: SsePostPath,
    body: object,
    untracked = false,
  ): Promise<{ status: number; body: unknown }> {
    const controller = new AbortController();
    if (!untracked) requests.add(controller);
    const timer = untracked
      ? undefined
      : setTimeout(() => controller.abort(new Error('request timeout')), config.requestTimeoutMs);
    try {
      const extra = typeof config.headers === 'function' ? await config.headers() : config.headers;
      const response = await config.fetch(`${config.base}${path}`, {
        method: 'POST',
        headers: {
          ...extra,
          'Content-Type': 'application/json',
          [Header.connectionId]: connectionId ?? '',
        },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      const parsed =
        response.status === HttpStatus.noContent
          ? undefined
          : await response.json().catch(() => undefined);
      return { status: response.status, body: parsed };
    } finally {
      clearTimeout(timer);
      requests.delete(controller);
    }
  }

  async function sendBatch(messages: OutboundMessage[]): Promise<SendOutcome[]> {
    let answer: { status: number; body: unknown };
    try {
      answer = await post(SsePath.send, { messages });
    } catch (error) {
      return messages.map(() => ({ status: 'retry', error }));
    }
    const error = (answer.body as { error?: unknown } | undefined)?.error;
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
      const outcome = sendOutcomeOfStatus(answer.status, error);
      return messages.map(() => outcome);
    }
    const results = (answer.body as { results?: unknown } | undefined)?.results;
    const byId = new Map<string, { status?: unknown; error?: unknown }>();
    if (Array.isArray(results)) for (const r of results) byId.set(String(r?.id), r ?? {});
    const outcomes = messages.map(({ id }): SendOutcome | undefined => {
      const result = byId.get(id);
      if (result?.status === ResultStatus.ok) return { status: 'ok' };
      if (result?.status === ResultStatus.rejected)
        return { status: 'rejected', error: result.error };
      return undefined;
    });
    if (outcomes.includes(undefined)) {
      // A 200 without a verdict for every message breaks the protocol: end the link; the
      // messages without a verdict are resent (same ids) on the next one.
      finish({
        reason: 'POST send answered 200 without a result for every message',
        protocol: true,
      });
    }
    return outcomes.map((o) => o ?? { status: 'stale' });
  }

  async function postWaiting(): Promise<void> {
    while (waiting.length > 0 && !done && failed === undefined) {
      const batch = waiting.splice(0, config.maxBatch);
      const outcomes = await sendBatch(batch.map((b) => b.message));
      for (const [i, { resolve }] of batch.entries()) resolve(outcomes[i] as SendOutcome);
      const broken = outcomes.find((o) => o.status === 'stale' || o.status === 'retry');
      if (broken) {
        failed = broken;
        for (const { resolve } of waiting.splice(0)) resolve(broken);
      }
    }
    posting = false;
  }

  return {
    async resume(positions: readonly StreamPosition[]) {
      if (done || connectionId === undefined) throw new Error('the event stream is not open');
      const answer = await post(SsePath.resume, { streams: positions });
      if (answer.status !== HttpStatus.ok) {
        throw Object.assign(new Error(`POST resume answered HTTP ${answer.status}`), {
          httpStatus: answer.status,
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
          queueMicrotask(() => void postWaiting());
        }
      });
    },
    suspend(positions: readonly StreamPosition[]) {
      if (!done && connectionId !== undefined) {
        post(SsePath.suspend, { streams: positions }, true).catch(() => {});
      }
    },
    close() {
      finish(undefined);
    },
  };
}

/**
 * The POST half of an SSE link (`adapters/sse.ts` is the transport and the event stream):
 * `B/resume`, `B/send`, `B/suspend` and `B/unwatch`, from the URL and headers of a request
 * to what its answer means. Sends wait in one queue and go out in batches, one POST at a
 * time. A resume is done when its `200` is in and, where the server promised one
 * (`"marker": true`), its `resumed` event too: the replay travels on the event stream,
 * another connection, and may come after the answer.
 */
import {
  dataJson,
  Header,
  HttpStatus,
  isAuthStatus,
  isRejectedStatus,
  isRetryAfterStatus,
  ResultStatus,
  retryAfterMs,
  SsePath,
  type SsePostPath,
  sendOutcomeOfStatus,
} from './protocol.js';
import type { Link, OutboundMessage, SendOutcome, StreamPosition } from './transport.js';
import { serialJson, wirePositions } from './wire-v2.js';

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

/** The `headers` option: a record, or a function (sync or async) called for every request. */
export type PostHeaders =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

/** What the requests of one transport share (`B` split from its query string by `splitUrl`). */
export interface RequestConfig {
  base: string;
  /** The query string of `url` (with its `?`), or empty: kept on every request. */
  query: string;
  fetch: FetchLike;
  headers: PostHeaders | undefined;
  maxBatch: number;
  requestTimeoutMs: number;
}

/** The base URL `B` and the query string kept on every request. */
export function splitUrl(url: string): { base: string; query: string } {
  // `B?query#hash`: the paths go between B and the query; a fragment is never sent.
  const [, path = '', query = ''] = /^([^?#]*)(\?[^#]*)?/.exec(url) ?? [];
  return { base: path.replace(/\/+$/, ''), query };
}

/** The URL of `B/<path>`, with the query string of `url`. */
export function endpoint(config: Pick<RequestConfig, 'base' | 'query'>, path: string): string {
  return `${config.base}${path}${config.query}`;
}

/** Shared: an `ok` result carries nothing else. */
const CONFIRMED: SendOutcome = Object.freeze({ status: 'ok' });

/** What one POST got back. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** The `Retry-After` of a 429 / 503, capped. */
  readonly retryAfterMs?: number;
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

/** The `Retry-After` of a response (a POST's or the event stream's), capped; read it on a 429 / 503. */
export function retryAfterOf(response: FetchResponseLike): number | undefined {
  return retryAfterMs(header(response, 'Retry-After'), Date.now());
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

/**
 * The body of one `POST B/send`, around each message's JSON (`dataJson`): nothing
 * serialised again. `{"messages":[{"id","serial","data"},…]}` (the serial only on a link
 * opened with a session, `sessioned`, and for a message that has one: `serialJson`).
 */
function batchBody(messages: readonly OutboundMessage[], sessioned: boolean): string {
  const items = messages.map(
    (message) =>
      `{"id":${JSON.stringify(message.id)}${serialJson(message, sessioned)},"data":${dataJson(message)}}`,
  );
  return `{"messages":[${items.join(',')}]}`;
}

/** What the POST half reads from, and reports to, the link it is half of. */
export interface PostingLink {
  readonly config: RequestConfig;
  /** The link was opened with a session: messages carry their serials. */
  readonly sessioned: boolean;
  /** The id the welcome gave, or undefined before it. */
  connectionId(): string | undefined;
  /** Whether the link has ended. */
  ended(): boolean;
  /** A 401 / 403: the server refused the credentials; the link ends as `auth`. */
  refused(status: number, what: string): void;
  /** The server broke the protocol: the link ends as `protocol`. */
  protocolError(reason: string): void;
  /** An exception while handling server input: a protocol close. */
  unexpected(what: string, error: unknown): void;
}

/**
 * A link's POSTs; `resumed` for a `resumed` event the event stream brought; and `abandon`
 * for when the link ends: in-flight requests aborted, waiting sends `stale`, resumes
 * still waiting rejected.
 */
export type Posts = Required<Pick<Link, 'resume' | 'send' | 'suspend' | 'unwatch'>> & {
  resumed(resumeId: string): void;
  abandon(): void;
};

/** The event stream ended, or was never open: a resume cannot (or can no longer) be done. */
const notOpen = () => new Error('the event stream is not open');

export function openPosts(link: PostingLink): Posts {
  const { config } = link;
  /** Sends the machine put on the wire that are not in a POST yet. */
  const waiting: Array<{ message: OutboundMessage; resolve: (o: SendOutcome) => void }> = [];
  let posting = false;
  /** Once a batch failed as a whole, nothing after it may be handled on this link. */
  let failed: SendOutcome | undefined;
  const requests = new Set<AbortController>();
  /**
   * How to settle each resume in flight, by its `resumeId`: one entry per resume, never
   * more, so a `resumed` event for any other id finds nothing and is ignored.
   */
  const markers = new Map<string, (error?: Error) => void>();
  let resumes = 0;

  /** `untracked`: a fire-and-forget notice, sent even though the link closes right after. */
  async function post(path: SsePostPath, body: string, untracked = false): Promise<Answer> {
    const controller = new AbortController();
    if (!untracked) requests.add(controller);
    const timer = untracked
      ? undefined
      : setTimeout(() => controller.abort(new Error('request timeout')), config.requestTimeoutMs);
    try {
      const extra = typeof config.headers === 'function' ? await config.headers() : config.headers;
      const response = await config.fetch(endpoint(config, path), {
        method: 'POST',
        headers: {
          ...extra,
          'Content-Type': 'application/json',
          [Header.connectionId]: link.connectionId() ?? '',
        },
        body,
        signal: controller.signal,
        // A redirect is never a confirmation from wherever it points: the request fails.
        redirect: 'error',
      });
      if (response.redirected === true) throw new Error(`POST ${path} was redirected`);
      const { status } = response;
      if (typeof status !== 'number') throw new Error(`POST ${path} answered without a status`);
      const wait = isRetryAfterStatus(status) ? retryAfterOf(response) : undefined;
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
      answer = await post(SsePath.send, batchBody(messages, link.sessioned));
    } catch (error) {
      return messages.map(() => ({ status: 'retry', error }));
    }
    if (isAuthStatus(answer.status)) {
      // The credentials were refused: nothing of the batch was handled; resend on a new link.
      link.refused(answer.status, 'POST send');
      return messages.map(() => sendOutcomeOfStatus(answer.status));
    }
    const error = field(answer.body, 'error');
    if (isRejectedStatus(answer.status) && messages.length > 1) {
      // The server refused the request, not a message (one too big, one malformed), and
      // handled none of it: send them one by one, in order, so only the culprit is refused.
      const outcomes: SendOutcome[] = [];
      for (const message of messages) {
        const [outcome] = link.ended()
          ? [{ status: 'stale' } as const]
          : await sendBatch([message]);
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
      link.protocolError(verdicts);
      return messages.map(() => ({ status: 'stale' }));
    }
    const outcomes = messages.map(({ id }) => verdicts.get(id));
    if (outcomes.includes(undefined)) {
      // A 200 without a verdict for every message breaks the protocol: end the link; the
      // messages without a verdict are resent (same ids) on the next one.
      link.protocolError('POST send answered 200 without a result for every message');
    }
    return outcomes.map((o) => o ?? { status: 'stale' });
  }

  async function postWaiting(): Promise<void> {
    try {
      while (waiting.length > 0 && !link.ended() && failed === undefined) {
        const batch = waiting.splice(0, config.maxBatch);
        let outcomes: SendOutcome[];
        try {
          outcomes = await sendBatch(batch.map((b) => b.message));
        } catch (error) {
          // The last line: the batch is resent on the next link, never left unanswered.
          link.unexpected('handling the answer to POST send', error);
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
      if (link.ended() || link.connectionId() === undefined) throw notOpen();
      // Unique on this link (its event stream), which is all a `resumed` event is matched on.
      const resumeId = `${++resumes}`;
      let settle = (_error?: Error) => {};
      // Settled by the `resumed` event, which may come before the answer, or by the end.
      const replayed = new Promise<void>((resolve, reject) => {
        settle = (error) => (error ? reject(error) : resolve());
      });
      replayed.catch(() => {});
      markers.set(resumeId, settle);
      try {
        const answer = await post(
          SsePath.resume,
          JSON.stringify({ streams: wirePositions(positions), resumeId }),
        );
        if (answer.status !== HttpStatus.ok) {
          if (isAuthStatus(answer.status)) link.refused(answer.status, 'POST resume');
          throw Object.assign(new Error(`POST resume answered HTTP ${answer.status}`), {
            httpStatus: answer.status,
            ...(answer.retryAfterMs === undefined ? {} : { retryAfterMs: answer.retryAfterMs }),
          });
        }
        // A server that promised a `resumed` event (`"marker": true`) writes it after the
        // replay: done once it came. No timer of our own, as over WebSocket: the machine's
        // resumeTimeoutMs bounds a handshake, and the link's end settles any resume. A
        // server that promised none (v1, or v2 before markers) is taken at its 200.
        if (field(answer.body, 'marker') === true) await replayed;
      } finally {
        markers.delete(resumeId);
      }
    },
    resumed(resumeId: string) {
      markers.get(resumeId)?.();
    },
    send(message: OutboundMessage) {
      if (link.ended()) return Promise.resolve({ status: 'stale' });
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
      if (!link.ended() && link.connectionId() !== undefined) {
        const body = JSON.stringify({ streams: wirePositions(positions) });
        post(SsePath.suspend, body, true).catch(() => {});
      }
    },
    unwatch(streams: readonly string[]) {
      // Fire-and-forget, as suspend; but aborted when the link ends (it means nothing
      // after), and a 401 / 403 ends the link as `auth`, as on any request.
      if (link.ended() || link.connectionId() === undefined || streams.length === 0) return;
      post(SsePath.unwatch, JSON.stringify({ streams }))
        .then((answer) => {
          if (isAuthStatus(answer.status)) link.refused(answer.status, 'POST unwatch');
        })
        .catch(() => {});
    },
    abandon() {
      for (const controller of requests) controller.abort();
      for (const { resolve } of waiting.splice(0)) resolve({ status: 'stale' });
      for (const settle of markers.values()) settle(notOpen());
    },
  };
}

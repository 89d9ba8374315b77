/**
 * What the SSE adapter tests share: a fake EventSource, fetches that answer, message builders,
 * the open() harness and the session constants.
 */

import { type FetchLike, sseTransport } from '../../adapters/sse.js';
import type { LinkEvents, LinkOptions, OutboundMessage } from '../../adapters/transport.js';
import { recordingEvents } from './link-recorder.js';

/**
 * A message as the machine hands it over: `json` is the data serialised once, at send();
 * `serial` its place in the app's sends (1 unless the test needs others).
 */
export const message = (id: string, data: unknown, serial = 1): OutboundMessage => ({
  id,
  serial,
  data,
  json: JSON.stringify(data),
  retry: true,
});

/** Events that ignore everything: for links whose events a test does not look at. */
export const ignored = (): LinkEvents => ({
  open: () => {},
  message: () => {},
  alive: () => {},
  stream: () => {},
  close: () => {},
});

export class FakeEventSource {
  static last: FakeEventSource | undefined;
  readonly listeners = new Map<string, (event: { data?: unknown; code?: number }) => void>();
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.last = this;
  }
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number }) => void) {
    this.listeners.set(type, listener);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data?: object, code?: number) {
    this.listeners.get(type)?.({
      data: data === undefined ? undefined : JSON.stringify(data),
      code,
    });
  }
  /** Dispatch an event whose data is this text (or anything), as the server wrote it. */
  emitRaw(type: string, data: unknown) {
    this.listeners.get(type)?.({ data });
  }
}

export function open(
  fetch: FetchLike,
  extra: { requestTimeoutMs?: number; url?: string } = {},
  overrides: Partial<LinkEvents> = {},
  welcome: object | null = { connectionId: 'c1', heartbeatMs: 1000 },
  linkOptions?: LinkOptions,
) {
  const { events, seen, frames, heads, closes, welcomes } = recordingEvents(overrides);
  const transport = sseTransport({
    url: 'http://server/sse/',
    EventSource: FakeEventSource,
    fetch,
    ...extra,
  });
  const link = transport.connect(events, linkOptions);
  const source = FakeEventSource.last as FakeEventSource;
  if (welcome) source.emit('welcome', welcome);
  return { link, source, seen, frames, heads, closes, welcomes, transport };
}

/** Link options as the machine gives them: the connection's session. */
export const SESSION: LinkOptions = { session: 'S3ss10n-id_0123456789' };
export const SESSION_QUERY = 'session=S3ss10n-id_0123456789&v=2';

export const answer =
  (status: number, body?: unknown): FetchLike =>
  async () => ({ status, json: async () => body });

/** A JSON text nested `depth` levels deep: `[[[…]]]`. */
export const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A fetch that answers every POST with `status`, this JSON text as body, and these headers. */
export const answerText =
  (status: number, text: string, headers: Record<string, string> = {}): FetchLike =>
  async () => ({ status, json: async () => JSON.parse(text), headers: new Headers(headers) });

/** A fetch that confirms every message it is sent, recording each request. */
export function confirming(requests: Array<{ url: string; init: Parameters<FetchLike>[1] }> = []) {
  const fetch: FetchLike = async (url, init) => {
    requests.push({ url, init });
    if (!url.includes('/send'))
      return { status: url.includes('/suspend') ? 204 : 200, json: async () => ({}) };
    const { messages } = JSON.parse(init.body) as { messages: Array<{ id: string }> };
    return {
      status: 200,
      json: async () => ({ results: messages.map(({ id }) => ({ id, status: 'ok' })) }),
    };
  };
  return { fetch, requests };
}

export const V2_WELCOME = {
  connectionId: 'c1',
  heartbeatMs: 1000,
  session: { known: true, handled: 9 },
};

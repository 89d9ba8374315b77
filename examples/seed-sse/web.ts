/**
 * What the seed transport uses of the platform's EventSource and fetch, typed by shape so
 * that browsers' globals, the `eventsource` package and a test's wrapper all fit.
 */

export interface EventSourceLike {
  addEventListener(
    type: string,
    listener: (event: { data?: unknown; code?: number }) => void,
  ): void;
  close(): void;
}

export type EventSourceConstructorLike = new (url: string) => EventSourceLike;

export interface FetchResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type FetchLike = (
  url: string,
  init: {
    method: 'POST';
    headers: Record<string, string>;
    body: string;
    signal: AbortSignal;
    /** A redirect fails the request: a login page's 200 must not confirm a message. */
    redirect: 'error';
  },
) => Promise<FetchResponseLike>;

/**
 * Live events across processes (scale-out.md §2): the append script publishes every event
 * on its stream's channel as `epoch|seq|json`; each process subscribes once per stream it
 * has watchers for, however many, and hands each event to them. Redis pub/sub delivers at
 * most once, so the watchers check seqs: a gap or another epoch means events were missed
 * and the link must resume (the server drops it); this module only moves them.

 */
import type { StoredEvent } from '../server/store.js';
import { streamKeys } from './stream-log.js';

/** The part of a node-redis client in subscriber mode this module uses. */
export interface SubscriberLike {
  subscribe(
    channel: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
}

/** One live event, with the epoch its seq counts in. */
export type LiveEvent = StoredEvent;

type Watcher = (event: LiveEvent) => void;

/** `epoch|seq|json` as the append script wrote it, or undefined if it is not that. */
export function parseLive(stream: string, message: unknown): LiveEvent | undefined {
  if (typeof message !== 'string') return undefined;
  const first = message.indexOf('|');
  const second = message.indexOf('|', first + 1);
  if (first <= 0 || second <= first + 1) return undefined;
  const epoch = message.slice(0, first);
  const seq = Number(message.slice(first + 1, second));
  if (epoch.length > 64 || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { stream, seq, epoch, json: message.slice(second + 1) };
}

export class RedisFanOut {
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly subscribing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly subscriber: SubscriberLike,
    private readonly prefix: string,
    /** A message on a channel that is not an event of ours: said, then skipped. */
    private readonly onProblem: (problem: string) => void = () => {},
  ) {}

  /**
   * Hand `stream`'s live events to `watcher` from the moment this resolves (the Redis
   * subscription is in place). Returns the function that stops it.
   */
  async watch(stream: string, watcher: Watcher): Promise<() => Promise<void>> {
    let set = this.watchers.get(stream);
    if (set === undefined) {
      set = new Set();
      this.watchers.set(stream, set);
      const { channel } = streamKeys(this.prefix, stream);
      this.subscribing.set(
        stream,
        this.subscriber.subscribe(channel, (message) => this.deliver(stream, message)),
      );
    }
    set.add(watcher);
    await this.subscribing.get(stream);
    return async () => {
      const current = this.watchers.get(stream);
      if (current === undefined || !current.delete(watcher) || current.size > 0) return;
      this.watchers.delete(stream);
      this.subscribing.delete(stream);
      await this.subscriber.unsubscribe(streamKeys(this.prefix, stream).channel);
    };
  }

  /** Streams with a subscription now. */
  get streams(): number {
    return this.watchers.size;
  }

  private deliver(stream: string, message: string): void {
    const event = parseLive(stream, message);
    if (event === undefined) {
      this.onProblem(`a message on ${stream}'s channel that is not epoch|seq|json`);
      return;
    }
    for (const watcher of this.watchers.get(stream) ?? []) watcher(event);
  }
}

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
  unsubscribe(
    channel: string,
    listener: (message: string, channel: string) => void,
  ): Promise<unknown>;
}

/** One live event, with the epoch its seq counts in. */
export type LiveEvent = StoredEvent;

interface Watcher {
  readonly event: (event: LiveEvent) => void;
  /** Events may have been missed (the subscription was down): resume from the log. */
  readonly lost: () => void;
}

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
  /** The listener each stream's subscription was made with: its unsubscribe names it. */
  private readonly listeners = new Map<string, (message: string) => void>();

  constructor(
    private readonly subscriber: SubscriberLike,
    private readonly prefix: string,
    /** A message on a channel that is not an event of ours: said, then skipped. */
    private readonly onProblem: (problem: string) => void = () => {},
  ) {}

  /**
   * Hand `stream`'s live events to `onEvent` from the moment this resolves (the Redis
   * subscription is in place); `onLost` is told when events may have been missed (the
   * subscriber's connection dropped). Returns the function that stops it. A subscription
   * that fails is forgotten, so the next watch of the stream tries again.
   */
  async watch(
    stream: string,
    onEvent: (event: LiveEvent) => void,
    onLost: () => void = () => {},
  ): Promise<() => Promise<void>> {
    const watcher: Watcher = { event: onEvent, lost: onLost };
    let set = this.watchers.get(stream);
    if (set === undefined) {
      const fresh = new Set<Watcher>();
      set = fresh;
      this.watchers.set(stream, fresh);
      const { channel } = streamKeys(this.prefix, stream);
      // A listener of its own per subscription: unsubscribing names it, so an UNSUBSCRIBE
      // still on its way when the stream is watched again removes only the old one (with
      // none named, node-redis drops every listener of the channel once Redis answers,
      // the new one too, and the stream goes deaf on this process).
      const listener = (message: string) => this.deliver(stream, message);
      this.listeners.set(stream, listener);
      const subscribing = this.subscriber.subscribe(channel, listener);
      this.subscribing.set(stream, subscribing);
      subscribing.catch(() => {
        if (this.watchers.get(stream) !== fresh) return;
        this.watchers.delete(stream);
        this.subscribing.delete(stream);
        this.listeners.delete(stream);
      });
    }
    set.add(watcher);
    try {
      await this.subscribing.get(stream);
    } catch (error) {
      set.delete(watcher);
      throw error;
    }
    return async () => {
      const current = this.watchers.get(stream);
      if (current === undefined || !current.delete(watcher) || current.size > 0) return;
      const listener = this.listeners.get(stream);
      this.watchers.delete(stream);
      this.subscribing.delete(stream);
      this.listeners.delete(stream);
      if (listener !== undefined)
        await this.subscriber.unsubscribe(streamKeys(this.prefix, stream).channel, listener);
    };
  }

  /**
   * The subscriber's connection dropped: whatever was published meanwhile never came.
   * Every watcher is told, and resumes from the log (node-redis subscribes again).
   */
  lostAll(): void {
    for (const set of [...this.watchers.values()]) for (const watcher of [...set]) watcher.lost();
  }

  /** Streams with a subscription now. */
  get streams(): number {
    return this.watchers.size;
  }

  private deliver(stream: string, message: string): void {
    const event = parseLive(stream, message);
    if (event === undefined) {
      // Not ours, or one of ours broken: either way its watchers cannot trust their seqs
      // now, so they resume from the log.
      this.onProblem(`a message on ${stream}'s channel that is not epoch|seq|json`);
      for (const watcher of [...(this.watchers.get(stream) ?? [])]) watcher.lost();
      return;
    }
    for (const watcher of this.watchers.get(stream) ?? []) watcher.event(event);
  }
}

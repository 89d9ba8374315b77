/**
 * Which links of this process watch which stream, and what each was sent of it. The
 * process hears a stream's live events from the store once (one `watch` per stream,
 * however many links watch it) and writes each to every link watching, in seq order.
 *
 * A resume (scale-out.md §2) joins first — so nothing published from then on can fall
 * between the backlog and the live events — then reads the stream's head and its backlog
 * in pages up to that head, writes them, then the live events that came meanwhile, skipping
 * the seqs already written. A store may miss live events (Redis pub/sub delivers at most
 * once): a link that would get a seq out of turn, or an event of another epoch, is dropped,
 * and its client resumes from what it has (it is told of a reset if the log started over).
 */
import type { StreamHead } from '../../adapters/transport.js';
import type { WireLink } from './hub-types.js';
import { andThen, type Maybe, type ServerStore, type StoredEvent, type Unwatch } from './store.js';

/** Events read per page of a replay. */
const PAGE = 1000;
/**
 * Most live events held for one link while its backlog is written. Past it the link is
 * dropped (its client resumes later, from the log): a slow store under a burst cannot
 * grow the process.
 */
export const MAX_HELD = 10_000;

/** One event's frame text per wire. */
type Frames = Map<WireLink['eventFrame'], string>;

/** What a link was sent of one stream. */
interface Position {
  epoch: string;
  seq: number;
  /** Live events that came while the backlog was being written, held until it is. */
  held: StoredEvent[] | undefined;
  /** How the replay that set this position ends. */
  finished?: Maybe<boolean>;
  /** The position of the later replay of the stream that replaced this one, if any. */
  next?: Position;
}

/** A link as this module needs it. */
export interface WatchingLink {
  readonly link: WireLink;
  /** Set once the link is closed or dropped: nothing more is written. */
  readonly gone: boolean;
  readonly positions: Map<string, Position>;
}

/** One stream this process hears, and its links that watch it. */
interface Heard<L> {
  readonly links: Set<L>;
  /** Resolves once the store hands this process the stream's live events. */
  ready: Maybe<void>;
  unwatch: Unwatch | undefined;
}

export interface WatchersHooks<L> {
  /** One frame onto a link; false once it is gone (or dropped as too slow). */
  write(link: L, text: string): boolean;
  /** Drop a link that missed events: its client resumes. */
  drop(link: L): void;
  /** While set, events are not written (a fault: the server is silent). */
  silent(): boolean;
  /** The store failed to let this process hear a stream, or to stop. */
  report(error: unknown): void;
}

/** A position a replay starts from: a seq, and the epoch it counts in (v2). */
export interface From {
  readonly seq: number;
  readonly epoch?: string;
}

export class Watchers<L extends WatchingLink> {
  private readonly heard = new Map<string, Heard<L>>();

  constructor(
    private readonly store: ServerStore,
    private readonly hooks: WatchersHooks<L>,
  ) {}

  /**
   * Watch `stream` on `link` from `from`: its `stream` frame first on a v2 link, then its
   * backlog, then its live events. Resolves true once the backlog is written, false if the
   * link went meanwhile; rejects if the store failed (the link watches nothing new then).
   */
  replay(link: L, stream: string, from: From, v2: boolean): Maybe<boolean> {
    const position: Position = { epoch: '', seq: 0, held: [] };
    // A replay of the stream still under way ends as this one does (`outcomeOf`).
    const previous = link.positions.get(stream);
    if (previous !== undefined) previous.next = position;
    link.positions.set(stream, position);
    const failed = (error: unknown): never => {
      if (link.positions.get(stream) === position) this.leave(link, stream);
      throw error;
    };
    let written: Maybe<boolean>;
    try {
      written = andThen(this.join(link, stream), () =>
        andThen(this.store.head(stream), (head) =>
          this.writeBacklog(link, position, head, from, v2),
        ),
      );
    } catch (error) {
      // A store that throws at once, rather than rejecting, fails the same way.
      return failed(error);
    }
    position.finished =
      typeof (written as { then?: unknown }).then === 'function'
        ? (written as Promise<boolean>).catch(failed)
        : written;
    return position.finished;
  }

  /** Stop writing `stream` to `link`. */
  leave(link: L, stream: string): void {
    link.positions.delete(stream);
    const heard = this.heard.get(stream);
    if (heard === undefined || !heard.links.delete(link) || heard.links.size > 0) return;
    this.heard.delete(stream);
    // Heard still being set up: stopped once it is (`join`).
    if (heard.unwatch !== undefined) this.stop(heard.unwatch);
  }

  /** Stop writing anything to `link` (it closed). */
  leaveAll(link: L): void {
    for (const stream of [...link.positions.keys()]) this.leave(link, stream);
  }

  /** Streams this process hears now (for tests and inspection). */
  get streams(): number {
    return this.heard.size;
  }

  private join(link: L, stream: string): Maybe<void> {
    const heard = this.heard.get(stream);
    if (heard !== undefined) {
      heard.links.add(link);
      return heard.ready;
    }
    const entry: Heard<L> = { links: new Set([link]), ready: undefined, unwatch: undefined };
    this.heard.set(stream, entry);
    let watching: Maybe<Unwatch>;
    try {
      watching = this.store.watch(
        stream,
        (event) => this.deliver(stream, event),
        () => this.lost(stream),
      );
    } catch (error) {
      // Not heard after all: the next link to watch the stream tries again.
      this.heard.delete(stream);
      throw error;
    }
    entry.ready = andThen(watching, (unwatch) => {
      // Every link left while the store was setting it up: let go at once.
      if (this.heard.get(stream) !== entry) return this.stop(unwatch);
      entry.unwatch = unwatch;
    });
    if (typeof (entry.ready as { then?: unknown } | undefined)?.then === 'function')
      (entry.ready as Promise<void>).catch(() => {
        if (this.heard.get(stream) === entry) this.heard.delete(stream);
      });
    return entry.ready;
  }

  private stop(unwatch: Unwatch): void {
    try {
      unwatch();
    } catch (error) {
      this.hooks.report(error);
    }
  }

  /** The backlog after `from` up to the head read, page by page, then the held events. */
  private writeBacklog(
    link: L,
    position: Position,
    head: StreamHead,
    from: From,
    v2: boolean,
  ): Maybe<boolean> {
    const { stream } = head;
    let after = from.seq;
    // A position in another epoch, or past the head, is of a log that started over:
    // replay it all; a v2 client sees the reset in the `stream` frame.
    if (v2 && ((from.epoch !== undefined && from.epoch !== head.epoch) || after > head.head))
      after = 0;
    position.epoch = head.epoch;
    position.seq = head.head;
    if (link.positions.get(stream) !== position) return this.outcomeOf(link, position);
    const streamFrame = v2 ? link.link.streamFrame : undefined;
    if (streamFrame !== undefined && !this.hooks.write(link, streamFrame(head))) return false;
    const page = (afterSeq: number): Maybe<boolean> =>
      andThen(this.store.read(stream, afterSeq, PAGE), (events) => {
        if (link.positions.get(stream) !== position) return this.outcomeOf(link, position);
        let last = afterSeq;
        let pastHead = false;
        for (const event of events) {
          // The log started over since its head was read: the client resumes, and is told.
          if (event.epoch !== head.epoch) {
            this.hooks.drop(link);
            return false;
          }
          // Past the head read: such an event is among the held ones too.
          if (event.seq > head.head) {
            pastHead = true;
            break;
          }
          if (event.seq <= last) continue;
          if (!this.hooks.write(link, link.link.eventFrame(event))) return false;
          last = event.seq;
        }
        // A page may be short (a store's own limit, records skipped): read on until the
        // head, as long as each page brings something new.
        if (!pastHead && last > afterSeq && last < head.head) return page(last);
        return this.release(link, position);
      });
    return page(after);
  }

  /**
   * A replay superseded by a later one of the same stream ends as the last of those does
   * (a failure of it fails this one too); one whose stream was let go (unwatched, the
   * link closed) ends as the link stands.
   */
  private outcomeOf(link: L, position: Position): Maybe<boolean> {
    let last = position.next;
    if (last === undefined) return !link.gone;
    while (last.next !== undefined) last = last.next;
    return last.finished ?? !link.gone;
  }

  /** The backlog is written: the live events held meanwhile go out, and the link is live. */
  private release(link: L, position: Position): boolean {
    const held = position.held ?? [];
    position.held = undefined;
    for (const event of held) if (!this.send(link, position, event, new Map())) return false;
    return !link.gone;
  }

  private deliver(stream: string, event: StoredEvent): void {
    const heard = this.heard.get(stream);
    if (heard === undefined) return;
    // Each wire's frame is built once per event, around its JSON.
    const frames: Frames = new Map();
    for (const link of heard.links) {
      const position = link.positions.get(stream);
      if (position === undefined) continue;
      if (position.held === undefined) this.send(link, position, event, frames);
      else if (position.held.length < MAX_HELD) position.held.push(event);
      else {
        // Too much came while the backlog was written: let go of it, and of the link.
        position.held = [];
        this.hooks.drop(link);
      }
    }
  }

  /** The store missed live events of `stream`: every link watching it resumes. */
  private lost(stream: string): void {
    for (const link of [...(this.heard.get(stream)?.links ?? [])]) this.hooks.drop(link);
  }

  /** One live event onto one link, in turn; a link that missed some is dropped. */
  private send(link: L, position: Position, event: StoredEvent, frames: Frames): boolean {
    if (link.gone) return false;
    if (event.epoch === position.epoch && event.seq <= position.seq) return true; // sent already
    if (event.epoch !== position.epoch || event.seq !== position.seq + 1) {
      this.hooks.drop(link);
      return false;
    }
    position.seq = event.seq;
    if (this.hooks.silent()) return true;
    const frame = link.link.eventFrame;
    let text = frames.get(frame);
    if (text === undefined) {
      text = frame(event);
      frames.set(frame, text);
    }
    return this.hooks.write(link, text);
  }
}

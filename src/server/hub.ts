/**
 * The protocol-independent half of the reference server: the live connections and the
 * limits every link is held to, publishing to them and replaying a resume's streams onto
 * one (each after its `stream` frame on a v2 link), unwatching, errors reported, and the
 * faults a test or the demo can inject. The store (`store.ts`: logs and sessions, in
 * memory or shared), who watches what (`watchers.ts`), resume planning (`resume-plan.ts`)
 * and the taking of messages once each (`intake.ts`) are its parts; the WebSocket and SSE
 * halves only speak the wire.
 */
import { randomUUID } from 'node:crypto';
import { HttpStatus } from '../../adapters/protocol.js';
import { Recent } from '../../adapters/recent.js';
import { isThenable, positiveOption } from './checks.js';
import type {
  HubConnection,
  HubOptions,
  ServerErrorContext,
  ServerErrorSource,
  WireLink,
} from './hub-types.js';
import { Intake, type ServerMessage, type Taken } from './intake.js';
import { MemoryServerStore } from './memory-store.js';
import {
  askCanWatch,
  planResume,
  type ResumePlan,
  type ResumeRefusal,
  tooMany,
  withinLimit,
} from './resume-plan.js';
import { andThen, type Maybe, type ServerStore, type SessionState } from './store.js';
import { eventJson, type StreamEvent } from './stream-logs.js';
import { Watchers, type WatchingLink } from './watchers.js';

export type {
  HubConnection,
  HubOptions,
  ServerErrorContext,
  ServerErrorSource,
  ServerMessage,
  WireLink,
};

function defaultOnError(error: unknown, context: ServerErrorContext): void {
  console.error(`holdfast/server: error during ${context.during}`, error);
}

/**
 * A link as it is written to and watched. Nothing in it leads back to the connection: the
 * watchers' closures hold it, and V8 may keep one of those a while (a function being
 * optimised keeps its context), so it must not keep a closed connection's streams.
 */
interface Wire extends WatchingLink {
  readonly link: WireLink;
  /** Closed, or dropped by the server: nothing more is written. */
  gone: boolean;
  /** Set while the link is over `maxBufferedBytes`: it must drain before this fires. */
  drainTimer?: ReturnType<typeof setTimeout>;
}

/** A live link, as the hub keeps it. */
interface Live {
  readonly connection: HubConnection;
  readonly streams: Set<string>;
  readonly notices: { suspends: number };
  readonly wire: Wire;
}

/**
 * How long a link may stay over `maxBufferedBytes` before it is dropped: a reader that
 * keeps up drains a burst (a big publish, a replay) within it; a slow one does not.
 */
const DRAIN_GRACE_MS = 5000;
/** Past this many times `maxBufferedBytes` a link is dropped at once, whatever its pace. */
const HARD_BUFFER_FACTOR = 4;
/** A resume whose link was dropped while it was written: there is no one to answer. */
const DROPPED: ResumeRefusal = Object.freeze({ refused: 'gone', error: 'the link was dropped' });

export class Hub {
  readonly connections = new Map<string, HubConnection>();
  private readonly lives = new Map<string, Live>();
  /**
   * A suspend notice is posted as the client lets go of its event stream, so it may
   * arrive just after the stream closed: the last few closed ids are remembered for it,
   * each with its notice tally only (not the connection, its streams or its link).
   */
  private readonly recentlyClosed = new Recent<{ suspends: number }>(1000);
  readonly store: ServerStore;
  /** The store, when it is the memory one: the faults that lose state need it. */
  private readonly memory: MemoryServerStore | undefined;
  private readonly watchers: Watchers<Wire>;
  private readonly intake: Intake<HubConnection>;
  private readonly canWatch: HubOptions['canWatch'];
  private readonly onError: NonNullable<HubOptions['onError']>;
  readonly maxStreamsPerConnection: number;
  readonly maxBufferedBytes: number;
  /** Fault injection: sends still to fail, and with which HTTP status. */
  failing: { count: number; status: number } = { count: 0, status: HttpStatus.internalError };
  /** Fault injection: no heartbeats and no events while set. */
  silent = false;
  /** Fault injection: resumes still to fail, and resumes left unanswered while set. */
  failingResumes = 0;
  hangingResumes = false;

  constructor(options: HubOptions = {}) {
    this.canWatch = options.canWatch;
    this.onError = options.onError ?? defaultOnError;
    this.store = options.store ?? new MemoryServerStore(options);
    this.memory = this.store instanceof MemoryServerStore ? this.store : undefined;
    this.intake = new Intake(options, this.store, (error, connection) =>
      this.report(error, { during: 'store', connectionId: connection.id }),
    );
    this.watchers = new Watchers<Wire>(this.store, {
      write: (live, text) => this.write(live, text),
      drop: (live) => this.dropSlow(live),
      silent: () => this.silent,
      report: (error) => this.report(error, { during: 'store' }),
    });
    this.maxStreamsPerConnection = positiveOption(
      'maxStreamsPerConnection',
      options.maxStreamsPerConnection,
      1000,
    );
    this.maxBufferedBytes = positiveOption('maxBufferedBytes', options.maxBufferedBytes, 4 << 20);
  }

  newId(): string {
    return randomUUID();
  }

  /** Tell `onError`; never throws, whatever it does. */
  report(error: unknown, context: ServerErrorContext): void {
    try {
      this.onError(error, context);
    } catch {
      // an app's reporter that fails must not take the server down with it
    }
  }

  /**
   * A new connection over one link: named, added, and pinged every `heartbeatMs` while the
   * hub is not silenced. `write` puts one frame on the link within `maxBufferedBytes`
   * (false once the link is gone or dropped); the link calls `closed()` once it is gone.
   * `session` (protocol v2) is what the link was opened with: `welcome` is what its welcome
   * says of it, undefined on a v1 link.
   */
  connect(
    link: WireLink,
    heartbeatMs: number,
    principal?: string,
    session?: string,
  ): {
    connection: HubConnection;
    write: (text: string) => boolean;
    closed: () => void;
    welcome: Maybe<SessionState> | undefined;
  } {
    const streams = new Set<string>();
    const notices = { suspends: 0 };
    const connection: HubConnection = {
      id: this.newId(),
      transport: link.transport,
      principal,
      session,
      streams,
      get suspends() {
        return notices.suspends;
      },
      drop: () => link.drop(),
    };
    const wire: Wire = { link, gone: false, positions: new Map() };
    const live: Live = { connection, streams, notices, wire };
    this.connections.set(connection.id, connection);
    this.lives.set(connection.id, live);
    const heartbeat = setInterval(() => {
      // A forgotten connection hears nothing more, not even pings: its client's silence
      // timer notices and opens a new link. Pinged on, an idle one would never learn.
      if (this.lives.get(connection.id) !== live) return clearInterval(heartbeat);
      if (!this.silent) this.write(wire, link.pingFrame);
    }, heartbeatMs);
    const closed = () => {
      clearInterval(heartbeat);
      wire.gone = true;
      this.remove(connection);
    };
    const welcome = this.intake.view(connection);
    return { connection, write: (text) => this.write(wire, text), closed, welcome };
  }

  remove(connection: HubConnection): void {
    const live = this.lives.get(connection.id);
    if (live?.connection !== connection) return;
    this.connections.delete(connection.id);
    this.lives.delete(connection.id);
    this.watchers.leaveAll(live.wire);
    this.recentlyClosed.add(connection.id, live.notices);
  }

  /** Count a suspend notice for a live connection or one closed moments ago; false if unknown. */
  noteSuspend(id: string): boolean {
    const notices = this.lives.get(id)?.notices ?? this.recentlyClosed.get(id);
    if (notices === undefined) return false;
    notices.suspends++;
    return true;
  }

  /**
   * One frame onto one link, unless the link is gone. A link whose peer has not taken
   * more than `maxBufferedBytes` is dropped instead: it resumes later on a new link.
   */
  private write(live: Wire, text: string): boolean {
    if (live.gone) return false;
    const buffered = live.link.buffered();
    if (buffered > HARD_BUFFER_FACTOR * this.maxBufferedBytes) return this.dropSlow(live);
    if (buffered > this.maxBufferedBytes && live.drainTimer === undefined) {
      // Over the limit in a burst: the peer gets DRAIN_GRACE_MS to take it.
      live.drainTimer = setTimeout(() => {
        live.drainTimer = undefined;
        if (!live.gone && live.link.buffered() > this.maxBufferedBytes) this.dropSlow(live);
      }, DRAIN_GRACE_MS);
      (live.drainTimer as { unref?: () => void }).unref?.();
    }
    live.link.write(text);
    return true;
  }

  /** Drop a link whose peer does not take what is written to it. */
  private dropSlow(live: Wire): false {
    live.gone = true;
    if (live.drainTimer !== undefined) clearTimeout(live.drainTimer);
    live.drainTimer = undefined;
    live.link.drop();
    return false;
  }

  /**
   * Append to a stream's log; the store hands the event to every process's links watching
   * it (this one's through `watchers`). `data` is serialised once, as it is logged: what
   * cannot be (a BigInt, a cycle, nesting too deep, nothing at all) throws a `TypeError`
   * and is not logged. Each wire's frame text is built once per event, around that JSON.
   * At once with the memory store; a promise with a store that answers later.
   */
  publish(stream: string, data: unknown): Maybe<StreamEvent> {
    const json = eventJson(stream, data);
    return andThen(this.store.append(stream, json), (event) => ({ stream, seq: event.seq, data }));
  }

  /**
   * A resume's `streams` checked, merged and held to `maxStreamsPerConnection` with the
   * streams the connection already watches (`planResume` in `resume-plan.ts`).
   */
  planResume(connection: HubConnection, value: unknown): ResumePlan | ResumeRefusal {
    return planResume(connection.streams, value, this.maxStreamsPerConnection);
  }

  /**
   * Ask `canWatch` about every stream of the plan, then subscribe the connection and
   * replay each stream after its position. Synchronous unless `canWatch` returns a
   * promise or the store answers later. Undefined when done; a refusal otherwise (nothing was subscribed). `after`,
   * when given, is written on the link right after the replay, in the same step (the SSE
   * `resumed` event: nothing of another resume can come between).
   */
  resume(
    connection: HubConnection,
    plan: ResumePlan,
    after?: string,
  ): ResumeRefusal | undefined | Promise<ResumeRefusal | undefined> {
    const canWatch = this.canWatch;
    if (!canWatch) return this.replay(connection, plan, after);
    return askCanWatch(
      plan,
      (stream) => canWatch(connection, stream),
      (error) => this.report(error, { during: 'canWatch', connectionId: connection.id }),
      () => this.replay(connection, plan, after),
    );
  }

  private replay(
    connection: HubConnection,
    plan: ResumePlan,
    after: string | undefined,
  ): Maybe<ResumeRefusal | undefined> {
    const live = this.lives.get(connection.id);
    if (live?.connection !== connection || live.wire.gone)
      return { refused: 'gone', error: 'unknown connection' };
    // Checked again: another resume on this link may have finished while canWatch ran.
    if (!withinLimit(connection.streams, plan.positions, this.maxStreamsPerConnection))
      return tooMany(this.maxStreamsPerConnection);
    for (const stream of plan.positions.keys()) live.streams.add(stream);
    // The closures below hold the wire and the id only, not the live link or the connection.
    const { wire } = live;
    const { id } = connection;
    const v2 = connection.session !== undefined;
    const streams = [...plan.positions];
    // One stream after another, each written whole (its backlog, then what came meanwhile).
    const next = (index: number): Maybe<ResumeRefusal | undefined> => {
      const entry = streams[index];
      if (entry === undefined) {
        if (after !== undefined && !this.write(wire, after)) return DROPPED;
        return undefined;
      }
      const [stream, position] = entry;
      return andThen(this.watchers.replay(wire, stream, position, v2), (written) =>
        written ? next(index + 1) : DROPPED,
      );
    };
    let outcome: Maybe<ResumeRefusal | undefined>;
    try {
      outcome = next(0);
    } catch (error) {
      return this.storeFailed(error, id);
    }
    return isThenable(outcome)
      ? outcome.then(undefined, (error: unknown) => this.storeFailed(error, id))
      : outcome;
  }

  /** The store failed during a resume: reported, and the resume fails (the client retries). */
  private storeFailed(error: unknown, connectionId: string): ResumeRefusal {
    this.report(error, { during: 'store', connectionId });
    return { refused: 'failed', error: 'the store did not answer' };
  }

  /** Stop sending these streams on this connection (protocol v2 `unwatch`). */
  unwatch(connection: HubConnection, streams: readonly string[]): void {
    const live = this.lives.get(connection.id);
    if (live?.connection !== connection) return;
    for (const stream of streams) {
      live.streams.delete(stream);
      this.watchers.leave(live.wire, stream);
    }
  }

  /**
   * Take one message (`intake.ts`): a duplicate, by serial in its session or by id on the
   * v1 path, is answered again but not handed to the app twice; an app that throws refuses
   * it. `serial` is checked already (`serialProblem`).
   */
  accept(
    message: { id: string; data: unknown; serial?: number },
    connection: HubConnection,
  ): Taken {
    return this.intake.accept(message.id, message.data, message.serial, connection);
  }

  /** Fault injection: one stream's log starts over; every link watching it is dropped. */
  startOver(stream: string): void {
    this.requireMemory('startOver').startOver(stream);
    for (const live of [...this.lives.values()]) {
      if (!live.streams.has(stream)) continue;
      // Nothing of the new log may reach it before it is gone: the epoch it was told stands.
      live.wire.gone = true;
      live.wire.link.drop();
    }
  }

  /** Fault injection: forget every session, as if each had expired. */
  forgetSessions(): void {
    this.requireMemory('forgetSessions').forgetSessions();
  }

  /** Fault injection: lose every log (new epochs, seqs from 1), every session and every id. */
  forgetState(): void {
    this.requireMemory('restart').forgetAll();
    this.intake.forgetIds();
  }

  /** The memory store, which the faults that lose state need. */
  requireMemory(fault: string): MemoryServerStore {
    if (this.memory === undefined)
      throw new TypeError(`holdfast/server: the ${fault} fault needs the memory store`);
    return this.memory;
  }

  /** Fault injection: how to answer the next resume. */
  resumeFault(): 'fail' | 'hang' | undefined {
    if (this.hangingResumes) return 'hang';
    if (this.failingResumes <= 0) return undefined;
    this.failingResumes--;
    return 'fail';
  }

  /** Fault injection: take one failure from the budget, if any is left. */
  takeFailure(): number | undefined {
    if (this.failing.count <= 0) return undefined;
    this.failing.count--;
    return this.failing.status;
  }
}

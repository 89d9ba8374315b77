/**
 * The protocol-independent half of the reference server: the live connections and the
 * limits every link is held to, publishing to them and replaying a resume's streams onto
 * one, a bounded dedup window of message ids, errors reported, and the faults a test or
 * the demo can inject. The stream logs (`stream-logs.ts`) and resume planning
 * (`resume-plan.ts`) are its parts; the WebSocket and SSE halves only speak the wire.
 */
import { randomUUID } from 'node:crypto';
import { describeValue } from '../../adapters/describe.js';
import { HttpStatus } from '../../adapters/protocol.js';
import { Recent } from '../../adapters/recent.js';
import { isThenable, positiveOption } from './checks.js';
import {
  askCanWatch,
  planResume,
  type ResumePlan,
  type ResumeRefusal,
  tooMany,
  withinLimit,
} from './resume-plan.js';
import { type LoggedEvent, type StreamEvent, StreamLogs } from './stream-logs.js';

export interface ServerMessage {
  id: string;
  data: unknown;
}

/** One client link, whichever wire it came over. */
export interface HubConnection {
  /** Unguessable: 122 random bits from `crypto.randomUUID()`. */
  readonly id: string;
  readonly transport: 'websocket' | 'sse';
  /**
   * Who connected: the string `authorize` returned for this link's WebSocket upgrade or
   * event stream; undefined when it returned `true` or there is no `authorize`.
   */
  readonly principal: string | undefined;
  /** Streams this connection resumed, so `publish` reaches it. */
  readonly streams: ReadonlySet<string>;
  /** Times the client sent a suspend notice (also one that came just after the link closed). */
  readonly suspends: number;
  /** Drop the link from the server's side. */
  drop(): void;
}

/** Where an error the server reports (`onError`) was thrown. */
export type ServerErrorSource =
  | 'authorize'
  | 'canWatch'
  | 'onMessage'
  | 'fallback'
  | 'websocket'
  | 'http';

export interface ServerErrorContext {
  /**
   * `authorize`, `canWatch`, `fallback`: the app's hook threw or rejected. `onMessage`: a
   * promise it returned rejected (a throw is a `rejected` verdict, not an error).
   * `websocket`, `http`: handling a frame or a request failed.
   */
  readonly during: ServerErrorSource;
  /** The connection it concerns, where there is one. */
  readonly connectionId?: string;
}

export interface HubOptions {
  /** Frames kept per stream for replay. @default 10000 */
  replayWindow?: number;
  /** Message ids remembered to discard duplicates. @default 100000 */
  dedupWindow?: number;
  /**
   * Called once per message id, in arrival order, with the connection it came on (its
   * `principal` says who sent it). Throw to refuse the message: the client is told
   * `rejected` with the error's message. A promise it returns is not waited for; if it
   * rejects, that is reported through `onError`.
   */
  onMessage?: (message: ServerMessage, connection: HubConnection) => void;
  /**
   * May this connection watch this stream? Asked for every stream a resume names, before
   * anything is replayed; only `true` (or a promise of `true`) allows. One refusal refuses
   * the whole resume: WebSocket closes with 1008 naming the stream, `POST B/resume`
   * answers 403 naming it, and the connection watches nothing new. A throw or a rejection
   * is reported (`onError`) and fails the resume (close 1011 / HTTP 500; the client
   * reconnects). Frames after a resume wait for its answer, so order is kept.
   * @default every stream is allowed
   */
  canWatch?: (connection: HubConnection, stream: string) => boolean | Promise<boolean>;
  /**
   * Most streams one connection may watch. A resume that would take it past this is
   * refused (WebSocket close 1008, HTTP 400, naming the limit) and watches nothing new.
   * @default 1000
   */
  maxStreamsPerConnection?: number;
  /**
   * Most bytes written to one link and not yet taken by its peer (WebSocket
   * `bufferedAmount`, SSE `writableLength`). Checked before every write, replays
   * included: a link over it is dropped, and the client resumes from its position on a
   * new link, so nothing is lost.
   * @default 4194304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Told of every error the server catches so it can keep serving: a hook of the app's
   * that threw, or a frame or request whose handling failed (that socket closes with
   * 1011, that request answers 500). Whatever it throws is ignored.
   * @default console.error
   */
  onError?: (error: unknown, context: ServerErrorContext) => void;
}

/** What a wire half hands the hub for one link. */
export interface WireLink {
  readonly transport: 'websocket' | 'sse';
  /** This wire's event frame, built around the event's stored JSON. */
  eventFrame(event: LoggedEvent): string;
  /** This wire's heartbeat frame. */
  readonly pingFrame: string;
  /** Bytes written to the link and not yet taken by the peer. */
  buffered(): number;
  /** Write one frame's text. */
  write(text: string): void;
  /** End the link from the server's side. */
  drop(): void;
}

/** The text a throw from `onMessage` refuses a message with. Never throws. */
function refusalText(error: unknown): string {
  try {
    if (error instanceof Error && typeof error.message === 'string') return error.message;
    if (typeof error === 'string') return error;
  } catch {
    // a hostile getter: fall through to naming the value's kind
  }
  return describeValue(error);
}

function defaultOnError(error: unknown, context: ServerErrorContext): void {
  console.error(`holdfast/server: error during ${context.during}`, error);
}

/** A live link, as the hub keeps it. */
interface Live {
  readonly connection: HubConnection;
  readonly link: WireLink;
  readonly streams: Set<string>;
  readonly notices: { suspends: number };
  /** Closed, or dropped by the server: nothing more is written. */
  gone: boolean;
}

export class Hub {
  readonly connections = new Map<string, HubConnection>();
  private readonly lives = new Map<string, Live>();
  /**
   * A suspend notice is posted as the client lets go of its event stream, so it may
   * arrive just after the stream closed: the last few closed ids are remembered for it,
   * each with its notice tally only (not the connection, its streams or its link).
   */
  private readonly recentlyClosed = new Recent<{ suspends: number }>(1000);
  private readonly logs: StreamLogs;
  private readonly seen: Recent<true>;
  private readonly onMessage: HubOptions['onMessage'];
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
    this.logs = new StreamLogs(options.replayWindow ?? 10_000);
    this.seen = new Recent(options.dedupWindow ?? 100_000);
    this.onMessage = options.onMessage;
    this.canWatch = options.canWatch;
    this.onError = options.onError ?? defaultOnError;
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
   */
  connect(
    link: WireLink,
    heartbeatMs: number,
    principal?: string,
  ): { connection: HubConnection; write: (text: string) => boolean; closed: () => void } {
    const streams = new Set<string>();
    const notices = { suspends: 0 };
    const connection: HubConnection = {
      id: this.newId(),
      transport: link.transport,
      principal,
      streams,
      get suspends() {
        return notices.suspends;
      },
      drop: () => link.drop(),
    };
    const live: Live = { connection, link, streams, notices, gone: false };
    this.connections.set(connection.id, connection);
    this.lives.set(connection.id, live);
    const heartbeat = setInterval(() => {
      if (!this.silent) this.write(live, link.pingFrame);
    }, heartbeatMs);
    const closed = () => {
      clearInterval(heartbeat);
      live.gone = true;
      this.remove(connection);
    };
    return { connection, write: (text) => this.write(live, text), closed };
  }

  remove(connection: HubConnection): void {
    const live = this.lives.get(connection.id);
    if (live?.connection !== connection) return;
    this.connections.delete(connection.id);
    this.lives.delete(connection.id);
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
  private write(live: Live, text: string): boolean {
    if (live.gone) return false;
    if (live.link.buffered() > this.maxBufferedBytes) {
      live.gone = true;
      live.link.drop();
      return false;
    }
    live.link.write(text);
    return true;
  }

  /**
   * Append to a stream's log and send to every connection watching it. `data` is
   * serialised once, as it is logged: what cannot be (a BigInt, a cycle, nesting too
   * deep, nothing at all) throws a `TypeError` and is not logged. Each wire's frame text
   * is built once per publish, around that JSON.
   */
  publish(stream: string, data: unknown): StreamEvent {
    const event = this.logs.append(stream, data);
    if (!this.silent) {
      const frames = new Map<WireLink['eventFrame'], string>();
      for (const live of this.lives.values()) {
        if (!live.streams.has(stream)) continue;
        let text = frames.get(live.link.eventFrame);
        if (text === undefined) {
          text = live.link.eventFrame(event);
          frames.set(live.link.eventFrame, text);
        }
        this.write(live, text);
      }
    }
    return { stream, seq: event.seq, data };
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
   * promise. Undefined when done; a refusal otherwise (nothing was subscribed).
   */
  resume(
    connection: HubConnection,
    plan: ResumePlan,
  ): ResumeRefusal | undefined | Promise<ResumeRefusal | undefined> {
    const canWatch = this.canWatch;
    if (!canWatch) return this.replay(connection, plan);
    return askCanWatch(
      plan,
      (stream) => canWatch(connection, stream),
      (error) => this.report(error, { during: 'canWatch', connectionId: connection.id }),
      () => this.replay(connection, plan),
    );
  }

  private replay(connection: HubConnection, plan: ResumePlan): ResumeRefusal | undefined {
    const live = this.lives.get(connection.id);
    if (live?.connection !== connection || live.gone)
      return { refused: 'gone', error: 'unknown connection' };
    // Checked again: another resume on this link may have finished while canWatch ran.
    if (!withinLimit(connection.streams, plan.positions, this.maxStreamsPerConnection))
      return tooMany(this.maxStreamsPerConnection);
    for (const stream of plan.positions.keys()) live.streams.add(stream);
    for (const [stream, seq] of plan.positions) {
      for (const event of this.logs.after(stream, seq)) {
        if (!this.write(live, live.link.eventFrame(event)))
          return { refused: 'gone', error: 'the link was dropped' };
      }
    }
    return undefined;
  }

  /**
   * Take one message. Returns the verdict: a duplicate id is confirmed again but not
   * handed to the app twice; an app that throws refuses it.
   */
  accept(
    message: ServerMessage,
    connection: HubConnection,
  ): { ok: true } | { ok: false; error: string } {
    if (this.seen.has(message.id)) return { ok: true };
    let result: unknown;
    try {
      result = this.onMessage?.(message, connection);
    } catch (error) {
      return { ok: false, error: refusalText(error) };
    }
    this.seen.add(message.id, true);
    if (isThenable(result)) {
      const report = (error: unknown) =>
        this.report(error, { during: 'onMessage', connectionId: connection.id });
      try {
        result.then(undefined, report);
      } catch (error) {
        report(error);
      }
    }
    return { ok: true };
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

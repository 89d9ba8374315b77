/**
 * The protocol-independent half of the reference server: stream logs with a bounded
 * replay window, a bounded dedup window of message ids, the live connections, and the
 * faults a test or the demo can inject. The WebSocket and SSE halves only speak the wire.
 */
import { randomUUID } from 'node:crypto';
import { HttpStatus } from '../../adapters/protocol.js';
import { Recent } from '../../adapters/recent.js';

export interface StreamEvent {
  stream: string;
  seq: number;
  data: unknown;
}

export interface ServerMessage {
  id: string;
  data: unknown;
}

/** One client link, whichever wire it came over. */
export interface HubConnection {
  /** Unguessable: 122 random bits from `crypto.randomUUID()`. */
  readonly id: string;
  readonly transport: 'websocket' | 'sse';
  /** Streams this connection resumed, so `publish` reaches it. */
  readonly streams: Set<string>;
  /** Write one event frame to the client. */
  deliver(event: StreamEvent): void;
  /** Write a heartbeat. */
  ping(): void;
  /** Drop the link from the server's side. */
  drop(): void;
  /** Times the client sent a suspend notice. */
  suspends: number;
}

export interface HubOptions {
  /** Frames kept per stream for replay. @default 10000 */
  replayWindow?: number;
  /** Message ids remembered to discard duplicates. @default 100000 */
  dedupWindow?: number;
  /**
   * Called once per message id, in arrival order. Throw to refuse the message: the
   * client is told `rejected` with the error's message.
   */
  onMessage?: (message: ServerMessage, connection: HubConnection) => void;
}

export class Hub {
  readonly connections = new Map<string, HubConnection>();
  private readonly recent = new Recent<HubConnection>(1000);
  private readonly logs = new Map<string, StreamEvent[]>();
  private readonly seqs = new Map<string, number>();
  private readonly seen: Recent<true>;
  private readonly replayWindow: number;
  private readonly onMessage: HubOptions['onMessage'];
  /** Fault injection: sends still to fail, and with which HTTP status. */
  failing: { count: number; status: number } = { count: 0, status: HttpStatus.internalError };
  /** Fault injection: no heartbeats and no events while set. */
  silent = false;
  /** Fault injection: resumes still to fail, and resumes left unanswered while set. */
  failingResumes = 0;
  hangingResumes = false;

  constructor(options: HubOptions = {}) {
    this.replayWindow = options.replayWindow ?? 10_000;
    this.seen = new Recent(options.dedupWindow ?? 100_000);
    this.onMessage = options.onMessage;
  }

  newId(): string {
    return randomUUID();
  }

  /**
   * A new connection over one link: named, added, and pinged every `heartbeatMs` while the
   * hub is not silenced. The link calls `closed()` once it is gone.
   */
  connect(
    link: Pick<HubConnection, 'transport' | 'deliver' | 'ping' | 'drop'>,
    heartbeatMs: number,
  ): { connection: HubConnection; closed: () => void } {
    const connection: HubConnection = {
      id: this.newId(),
      streams: new Set(),
      suspends: 0,
      ...link,
    };
    this.add(connection);
    const heartbeat = setInterval(() => {
      if (!this.silent) connection.ping();
    }, heartbeatMs);
    const closed = () => {
      clearInterval(heartbeat);
      this.remove(connection);
    };
    return { connection, closed };
  }

  add(connection: HubConnection): void {
    this.connections.set(connection.id, connection);
  }

  remove(connection: HubConnection): void {
    if (this.connections.get(connection.id) !== connection) return;
    this.connections.delete(connection.id);
    // A suspend notice is posted as the client lets go of its event stream, so it may
    // arrive just after the stream closed: remember the last few closed ids for it.
    this.recent.add(connection.id, connection);
  }

  /** A live connection, or one closed moments ago (for a late suspend notice). */
  findForSuspend(id: string): HubConnection | undefined {
    return this.connections.get(id) ?? this.recent.get(id);
  }

  publish(stream: string, data: unknown): StreamEvent {
    const seq = (this.seqs.get(stream) ?? 0) + 1;
    this.seqs.set(stream, seq);
    const event = { stream, seq, data };
    const log = this.logs.get(stream) ?? [];
    this.logs.set(stream, log);
    log.push(event);
    if (log.length > this.replayWindow) log.splice(0, log.length - this.replayWindow);
    if (!this.silent)
      for (const c of this.connections.values()) if (c.streams.has(stream)) c.deliver(event);
    return event;
  }

  /** Subscribe the connection and replay every stream after its position. */
  resume(
    connection: HubConnection,
    positions: ReadonlyArray<{ stream: string; seq: number }>,
  ): void {
    for (const { stream, seq } of positions) {
      connection.streams.add(stream);
      for (const event of this.logs.get(stream) ?? [])
        if (event.seq > seq) connection.deliver(event);
    }
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
    try {
      this.onMessage?.(message, connection);
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    this.seen.add(message.id, true);
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

/** Checks a `{ stream, seq }[]` from the wire; undefined when it is not one. */
export function readPositions(value: unknown): Array<{ stream: string; seq: number }> | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Array<{ stream: string; seq: number }> = [];
  for (const item of value) {
    const { stream, seq } = (item ?? {}) as { stream?: unknown; seq?: unknown };
    if (typeof stream !== 'string' || !Number.isSafeInteger(seq) || (seq as number) < 0)
      return undefined;
    out.push({ stream, seq: seq as number });
  }
  return out;
}

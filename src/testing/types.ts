/**
 * The shapes of `holdfast/testing`: what a user hands the kit (a transport factory and
 * hooks into their own server) and what the kit hands back (a report, case by case).
 */
import type { Transport } from '../../adapters/transport.js';
import type { ConnectionOptions } from '../connection.js';

/** One message as the server's app got it. Only `id` is read. */
export interface ReceivedMessage {
  readonly id: string;
  readonly data?: unknown;
}

/** A hook may answer at once or with a promise (a server in another process). */
type Maybe<T> = T | Promise<T>;

/**
 * How the kit drives the user's server. The three required hooks are enough for the
 * contract's duties and most scenarios; each optional one enables the scenarios and path
 * steps that need it. A scenario whose hook is missing is reported skipped, with the
 * hook it needs, never left out silently.
 */
export interface ServerHooks {
  /**
   * Every message the server's app was handed (what its `onMessage` saw), in arrival order,
   * duplicates included. It may hold other clients' messages: the kit reads only its own
   * ids, so one server can serve every case.
   */
  received(): Maybe<readonly ReceivedMessage[]>;
  /**
   * Append one event to a stream's log and push it to every link that resumed the stream.
   * The kit only publishes to streams it named itself, so it knows each log's head: the
   * n-th event it publishes to a stream must get seq n.
   */
  publish(stream: string, data: unknown): unknown;
  /** Close every live link from the server's side (a network cut, a deploy). */
  dropLinks(): unknown;
  /**
   * Stop and start the server. `keepState: true`: a server with a durable store (logs and
   * sessions survive); `false`: a crash of an in-memory server (logs start over with a new
   * epoch, sessions and ids are forgotten). Enables `restart` and `restart, state lost`.
   */
  restart?(options: { keepState: boolean }): unknown;
  /**
   * The next message the server's app is handed loses its answer: the app has it, the
   * client never hears back (drop the link before the ack is written, or swallow the ack).
   */
  loseNextAck?(): unknown;
  /** Answer the next `count` sends with a transient failure (5xx, or drop the socket). */
  failNextSends?(count: number): unknown;
  /** While on, leave every resume unanswered (the client's resume timeout ends it). */
  holdResumes?(on: boolean): unknown;
  /** Forget every live link: their next sends are answered `stale` (HTTP 404, or closed). */
  staleLinks?(): unknown;
  /**
   * How many links (sockets, event streams) the server holds open now. A link the client
   * closed must be gone at the server within 2 s (or `timeoutMs`, if shorter): after every
   * case (every path) the kit waits for the count to fall back to what it was before.
   * Without it, that half of R14 is reported unchecked (`CaseResult.unchecked`): the kit
   * sees only the client's side.
   */
  liveLinks?(): Maybe<number>;
}

/** The optional hooks, by name: a skipped case or check names the one it needed. */
export type OptionalHook = Exclude<keyof ServerHooks, 'received' | 'publish' | 'dropLinks'>;

export interface ConformanceOptions {
  /** A fresh transport for each case, aimed at the server the hooks drive. */
  transport: () => Transport;
  server: ServerHooks;
  /** Names the transport in the report and in a failure's message. @default 'transport' */
  name?: string;
  /** Run only the cases with these ids (`conformanceCases()` lists them). @default all */
  cases?: readonly string[];
  /**
   * The longest the kit waits for any one thing it expects (a link to open, sends to be
   * confirmed, events to arrive), in ms. Waits end as soon as the thing happens.
   * @default 5000
   */
  timeoutMs?: number;
  /** How long the kit watches a closed link for late callbacks, in ms. @default 30 */
  graceMs?: number;
  /**
   * Connection options over the kit's own (backoff 10 ms, resume timeout 1 s, ack timeout
   * 1 s, no heartbeat timeout, which a loaded machine could trip).
   */
  connection?: Partial<Omit<ConnectionOptions, 'transport'>>;
}

/** A broken duty or invariant: `rule` names it as docs/testing-kit.md does. */
export interface Violation {
  readonly rule: string;
  readonly detail: string;
}

/** `duty`: the transport contract, link by link; `scenario`: a fault, by hand; `path`: generated. */
export type CaseKind = 'duty' | 'scenario' | 'path';

export interface CaseResult {
  readonly id: string;
  readonly name: string;
  readonly kind: CaseKind;
  readonly status: 'passed' | 'failed' | 'skipped';
  /** Why it was skipped: the hook it needs. */
  readonly skipped?: string;
  /** The first violation: what the failure is named after. */
  readonly violation?: Violation;
  /** Every violation, in the order seen (at most 20). */
  readonly violations: readonly Violation[];
  /**
   * Checks this case could not make, each with why: e.g. R14 at the server without a
   * `liveLinks()` hook. A case passes without them; a report should say so.
   */
  readonly unchecked: readonly string[];
  readonly durationMs: number;
}

export interface ConformanceReport {
  readonly name: string;
  /** No case failed (skipped ones do not count against it). */
  readonly ok: boolean;
  readonly results: readonly CaseResult[];
  /** Every case's `unchecked`, each reason once: what this run could not check. */
  readonly unchecked: readonly string[];
  /**
   * The machine's leaf states the real connections passed through, and those they did not
   * (informational: a wire decides some of them, such as a resume timing out).
   */
  readonly coverage: { readonly reached: readonly string[]; readonly missed: readonly string[] };
  readonly durationMs: number;
}

/** One case, to run on its own: what `conformanceCases()` returns. */
export interface ConformanceCase {
  readonly id: string;
  /** A title for the test runner: `duty: …`, `scenario: …`, `path: …`. */
  readonly name: string;
  readonly kind: CaseKind;
  /** Set when a hook it needs is missing: register the case as skipped with this reason. */
  readonly skip: string | undefined;
  /** Resolves with the result when the case passed or was skipped; throws `ConformanceError` when it failed. */
  run(): Promise<CaseResult>;
}

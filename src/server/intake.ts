/**
 * How the reference server takes a client's messages, once each. A message with a
 * serial (protocol v2) is taken by its session's rule: handed to the app when its serial
 * is above the highest the session has had taken (`taken`), then `taken := serial`
 * whether the app accepted or refused it; a duplicate is answered with the first verdict
 * (a refusal as long as the session's last 1,024 refusals hold it) and never handed over
 * again. Sessions are keyed by (principal, session id). A message without a serial (a v1
 * client) is deduplicated by id, in a bounded window shared by every v1 client.
 */
import { describeValue } from '../../adapters/describe.js';
import { Recent } from '../../adapters/recent.js';
import { sessionKey } from '../../adapters/session-store.js';
import { isThenable } from './checks.js';
import {
  andThen,
  type Maybe,
  type SerialClaim,
  type ServerStore,
  type SessionState,
} from './store.js';

/** What `onMessage` receives. */
export interface ServerMessage {
  id: string;
  data: unknown;
  /** The session of the link it came on (protocol v2); absent on a v1 link. */
  session?: string;
  /** Its serial within the session (protocol v2); absent from a v1 message. */
  serial?: number;
}

/** The parts of a connection the intake reads. */
export interface Sender {
  readonly id: string;
  readonly principal: string | undefined;
  readonly session: string | undefined;
}

export type Verdict =
  | { ok: true }
  | { ok: false; error: string }
  /**
   * Not taken now: another process holds the session's lease, or the store could not
   * answer. The client must send it again later (a WebSocket is closed with 1013, an SSE
   * POST answered 503 with `Retry-After`); nothing after it on the link is taken.
   */
  | { ok: false; retryAfterMs: number };

export interface IntakeOptions<C extends Sender> {
  /** Message ids remembered to discard duplicates on the v1 path. @default 100000 */
  dedupWindow?: number;
  /** May return a promise: the verdict waits for it (a rejection refuses the message). */
  onMessage?: (message: ServerMessage, connection: C) => unknown;
}

/** A verdict now, or once the app's promise settled. */
export type Taken = Verdict | Promise<Verdict>;

const ACCEPTED: Verdict = Object.freeze({ ok: true });
/** The store did not answer: the client tries again after about this long. */
const STORE_FAILED: Verdict = Object.freeze({ ok: false, retryAfterMs: 1000 });

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

export class Intake<C extends Sender> {
  private seen: Recent<true>;
  /**
   * Per session (or, on the v1 path, per id): the message whose promise the app has not
   * settled yet. The next one of that session waits for it, so a session's messages are
   * handed over one at a time, in order, and a resend arriving meanwhile is judged by the
   * first's verdict, never handed over twice. An entry lives as long as its promise.
   */
  private readonly pending = new Map<string, Promise<Verdict>>();
  private readonly dedupWindow: number;
  private readonly onMessage: IntakeOptions<C>['onMessage'];

  constructor(
    options: IntakeOptions<C>,
    private readonly store: ServerStore,
    /** Told when the store fails to answer (the message is then answered with a retry). */
    private readonly onStoreError: (error: unknown, connection: C) => void,
  ) {
    this.dedupWindow = options.dedupWindow ?? 100_000;
    this.seen = new Recent(this.dedupWindow);
    this.onMessage = options.onMessage;
  }

  /** What the `welcome` of a link opened with `session` says of it; undefined on a v1 link. */
  view(connection: Sender): Maybe<SessionState> | undefined {
    const { session, principal } = connection;
    if (session === undefined) return undefined;
    const key = sessionKey(session, principal);
    // A session whose message the app is handling now is known, though nothing of it is
    // committed yet: a link that drops meanwhile must not make its client report a
    // `session-lost` that is not.
    const handling = this.pending.has(key);
    try {
      const state = this.store.session(key);
      if (!handling) return state;
      return andThen(state, (known) => (known.known ? known : { known: true, handled: 0 }));
    } catch (error) {
      // A store that throws at once fails the welcome as one that rejects does.
      return Promise.reject(error);
    }
  }

  /**
   * Take one message (its serial, if any, already checked: an integer ≥ 1 on a link with
   * a session). Returns the verdict for the client, or its promise when the app returned
   * one (or an earlier message of the session is still waiting for the app's).
   */
  accept(id: string, data: unknown, serial: number | undefined, connection: C): Taken {
    const { session } = connection;
    const v2 = serial !== undefined && session !== undefined;
    const lock = v2 ? sessionKey(session, connection.principal) : `\u0000${id}`;
    const before = this.pending.get(lock);
    // Behind a message the app is still handling: judged once that one is settled. Each
    // waits for the last one queued, so they are judged in the order they came.
    const take = () => this.take(id, data, v2 ? serial : undefined, connection);
    const taken = before === undefined ? take() : before.then(take);
    if (!isThenable(taken)) return taken;
    const waiting: Promise<Verdict> = taken.finally(() => {
      if (this.pending.get(lock) === waiting) this.pending.delete(lock);
    });
    this.pending.set(lock, waiting);
    return waiting;
  }

  private take(id: string, data: unknown, serial: number | undefined, connection: C): Taken {
    const session = connection.session;
    if (serial === undefined || session === undefined) {
      if (this.seen.has(id)) return { ok: true };
      const message = session === undefined ? { id, data } : { id, data, session };
      const verdict = this.handOver(message, connection);
      const remember = (taken: Verdict) => {
        if (taken.ok) this.seen.add(id, true);
        return taken;
      };
      return isThenable(verdict) ? verdict.then(remember) : remember(verdict);
    }
    const key = sessionKey(session, connection.principal);
    const unanswered = (error: unknown): Verdict => {
      this.onStoreError(error, connection);
      return STORE_FAILED;
    };
    let claiming: Maybe<SerialClaim>;
    try {
      claiming = this.store.claim(key, serial);
    } catch (error) {
      return unanswered(error);
    }
    const claimed = andThen(claiming, (claim): Taken => {
      if ('busy' in claim) return { ok: false, retryAfterMs: claim.retryAfterMs };
      if (!claim.fresh)
        return claim.refusal === undefined ? ACCEPTED : { ok: false, error: claim.refusal };
      const { lease } = claim;
      const verdict = this.handOver({ id, data, session, serial }, connection);
      // Committed before it is answered: a verdict the client hears is one the store keeps.
      // A commit that fails is reported and the verdict still given: the app has the
      // message, and a retry would hand it over again at once.
      const commit = (taken: Verdict): Taken => {
        const refusal = 'error' in taken ? taken.error : undefined;
        let committed: Maybe<void>;
        try {
          committed = this.store.commit(key, serial, refusal, lease);
        } catch (error) {
          this.onStoreError(error, connection);
          return taken;
        }
        if (!isThenable(committed)) return taken;
        return committed.then(
          () => taken,
          (error: unknown) => {
            this.onStoreError(error, connection);
            return taken;
          },
        );
      };
      return isThenable(verdict) ? verdict.then(commit) : commit(verdict);
    });
    return isThenable(claimed) ? claimed.then(undefined, unanswered) : claimed;
  }

  /** Forget every v1 id: what a restart without persistence loses of them. */
  forgetIds(): void {
    this.seen = new Recent(this.dedupWindow);
  }

  /**
   * Hand one message to the app: a throw refuses it, and so does a promise it returns
   * that rejects; a promise that resolves accepts it once it has.
   */
  private handOver(message: ServerMessage, connection: C): Taken {
    let result: unknown;
    try {
      result = this.onMessage?.(message, connection);
    } catch (error) {
      return { ok: false, error: refusalText(error) };
    }
    if (!isThenable(result)) return ACCEPTED;
    return new Promise<Verdict>((resolve) => {
      try {
        result.then(
          () => resolve(ACCEPTED),
          (error: unknown) => resolve({ ok: false, error: refusalText(error) }),
        );
      } catch (error) {
        // A thenable whose then() throws refuses the message like a throw would.
        resolve({ ok: false, error: refusalText(error) });
      }
    });
  }
}

/**
 * The connection's invariants, checked after every step by both the simulation (`sim/`)
 * and the model runner (`test/model/runner.ts`). A runner makes a `Tracker` for its
 * connection, sends through it and tells it what the server confirmed; `checkInvariants`
 * after every step, `checkClosed` once the connection is closed. A broken one throws
 * `InvariantError` with a message that starts with the rule: `R1 order: step 3 (send): …`.
 */
import type { SimulatedClock } from 'xstate';
import type { InboundFrame, MemoryServer, ServerLink } from '../../adapters/memory.js';
import type { DeliveryError } from '../../machines/errors.js';
import { toArray } from '../../machines/queue.js';
import type { Connection } from '../../src/connection.js';
import { pendingTimers } from './timers.js';

export class InvariantError extends Error {
  override name = 'InvariantError';
}

/** Throw `InvariantError` naming `rule` unless `condition` holds. */
export function check(condition: boolean, rule: string, detail: string): asserts condition {
  if (!condition) throw new InvariantError(`${rule}: ${detail}`);
}

/** What a runner saw of its connection and server: the state the invariants are checked on. */
export interface Tracker {
  readonly conn: Connection;
  readonly server: MemoryServer;
  readonly clock: SimulatedClock;
  /** Send order of every message the app sent, by id. */
  readonly order: Map<string, number>;
  /** Messages whose promise resolved, in the order they resolved. */
  readonly confirmed: Set<string>;
  /** Messages whose promise rejected. */
  readonly rejected: Set<string>;
  /** Every `dropped` the connection reported. */
  readonly dropped: DeliveryError[];
  /**
   * Send the next message, `s1`, `s2`, … in send order, with `send(id)`, and follow its
   * promise. Returns the id.
   */
  send(send: (id: string) => Promise<unknown>): string;
  /** The server confirmed `id` on the live link: by the next check it must have resolved. */
  acked(id: string): void;
}

export interface TrackOptions {
  /**
   * The server answers a link's sends in send order (the model runner's does), so the
   * app's promises must resolve in send order too. The simulation's server acks in any
   * order, and a message it handled without a reply resolves on a later resend.
   */
  answersInSendOrder?: boolean;
}

interface State extends Tracker {
  readonly answersInSendOrder: boolean;
  /** How many times each message's promise settled. */
  readonly settledCount: Map<string, number>;
  /** Sent after the connection closed: rejected at once, with no listener left to tell. */
  readonly afterClose: Set<string>;
  /** Acks not checked yet. */
  readonly pendingAcks: string[];
  /** Links that opened while a stream was watched: they owe a resume before any send. */
  readonly handshakes: Set<ServerLink>;
  /** Links already seen open. */
  readonly seenOpen: Set<ServerLink>;
  /** The last position seen on each watched stream (forgotten once it is unwatched). */
  readonly lastPositions: Map<string, { seq: number; epoch: string | undefined }>;
  /** Streams a `reset` error named since the last check (`*`: one it did not name). */
  readonly resets: Set<string>;
  /** Streams seen watched at some check: their frames must stop once they are unwatched. */
  readonly everWatched: Set<string>;
  /**
   * Per watched stream, the events delivered to the app since it was watched or last
   * reported reset, as `epoch seq`: none may come twice.
   */
  readonly delivered: Map<string, Set<string>>;
  /**
   * The length of `server.receivedBy(session)` at each `session-lost` reported under
   * `'resend'`: a serial the server's app had before such a report may reach it again.
   */
  readonly lostAt: number[];
  /** Serials of the session the server's app got, at their first index in `receivedBy`. */
  readonly firstReceipt: Map<number, number>;
  /** How much of `server.receivedBy(session)` was checked. */
  receiptsChecked: number;
  /** Broken rules seen by a listener, thrown at the next check. */
  readonly broken: { rule: string; detail: string }[];
  /** The connection entered `open` since the last check. */
  enteredOpen: boolean;
}

/** Start tracking `conn` over the memory `server`, both on `clock`. */
export function track(
  conn: Connection,
  server: MemoryServer,
  clock: SimulatedClock,
  options: TrackOptions = {},
): Tracker {
  const state: State = {
    answersInSendOrder: options.answersInSendOrder ?? false,
    conn,
    server,
    clock,
    order: new Map(),
    confirmed: new Set(),
    rejected: new Set(),
    dropped: [],
    settledCount: new Map(),
    afterClose: new Set(),
    pendingAcks: [],
    handshakes: new Set(),
    seenOpen: new Set(),
    lastPositions: new Map(),
    resets: new Set(),
    everWatched: new Set(),
    delivered: new Map(),
    lostAt: [],
    firstReceipt: new Map(),
    receiptsChecked: 0,
    broken: [],
    enteredOpen: false,
    send(send) {
      const id = `s${state.order.size + 1}`;
      state.order.set(id, state.order.size);
      if (conn.state === 'closed') state.afterClose.add(id);
      const count = () => state.settledCount.set(id, (state.settledCount.get(id) ?? 0) + 1);
      send(id).then(
        () => {
          state.confirmed.add(id);
          count();
        },
        () => {
          state.rejected.add(id);
          count();
        },
      );
      return id;
    },
    acked(id) {
      state.pendingAcks.push(id);
    },
  };
  conn.on('dropped', (error) => state.dropped.push(error));
  conn.on('state', (to) => {
    if (to === 'open') state.enteredOpen = true;
  });
  conn.on('error', (error) => {
    // A reported reset (R23) is the one way a position may go back or change epoch: its
    // log started over, and its events may come again from seq 1.
    if (error.kind === 'reset') {
      const stream = resetStream(error.message);
      state.resets.add(stream);
      if (stream === '*') state.delivered.clear();
      else state.delivered.delete(stream);
    }
    // Under 'resend', what the server's app had of this session may reach it again (R22).
    if (
      error.kind === 'session-lost' &&
      conn.actor.getSnapshot().context.options.onSessionLost === 'resend'
    )
      state.lostAt.push(server.receivedBy(conn.session).length);
  });
  conn.on('message', (_data, frame) => noteDelivery(state, frame));
  return state;
}

/** The stream a `reset` error names (`ConnectionError.reset`), or `*` if it names none. */
function resetStream(message: string): string {
  const quoted = /^holdfast: stream ("(?:[^"\\]|\\.)*") started over/.exec(message)?.[1];
  if (quoted === undefined) return '*';
  try {
    return String(JSON.parse(quoted));
  } catch {
    return '*';
  }
}

/**
 * An event the app got: within an epoch, each seq of a watched stream comes once (R23),
 * and none comes after the app unwatched its stream (R18). Checked as it comes, thrown at
 * the next check (a listener's throw would land in the actor).
 */
function noteDelivery(state: State, frame: InboundFrame | undefined): void {
  const stream = frame?.stream;
  const seq = frame?.seq;
  if (typeof stream !== 'string' || typeof seq !== 'number') return;
  const position = state.conn.positions().find((p) => p.stream === stream);
  if (position === undefined) {
    if (state.everWatched.has(stream))
      state.broken.push({
        rule: 'R18 unwatch stops delivery',
        detail: `${stream} seq ${seq} reached the app after it was unwatched`,
      });
    return;
  }
  const key = `${position.epoch ?? '(no epoch)'} ${seq}`;
  const seen = state.delivered.get(stream) ?? new Set<string>();
  state.delivered.set(stream, seen);
  if (seen.has(key))
    state.broken.push({
      rule: 'R23 no event twice within an epoch',
      detail: `${stream} seq ${seq} of epoch ${position.epoch ?? '(none)'} reached the app twice`,
    });
  seen.add(key);
}

/** In strictly increasing order. */
const increasing = (ns: number[]) => ns.every((n, i) => i === 0 || n > (ns[i - 1] as number));

/** The invariants that hold after every step; `where` names the step in a failure. */
export function checkInvariants(tracker: Tracker, where: string): void {
  const t = tracker as State;
  const { conn, server, order } = t;
  const snapshot = conn.actor.getSnapshot();
  const outbox = [
    ...toArray(snapshot.context.outbox.inFlight),
    ...toArray(snapshot.context.outbox.queue),
  ];
  const sendOrder = (id: string) => order.get(id) ?? -1;

  // R1: the server's first receipts follow send order (a server without a dedup window
  // hands a resend to its app again: only the first receipt counts).
  const firsts = [...new Set(server.received.map((m) => m.id))];
  check(increasing(firsts.map(sendOrder)), 'R1 order', `${where}: the server got ${firsts}`);
  // R1: answered in send order, messages are confirmed in send order…
  if (t.answersInSendOrder)
    check(
      increasing([...t.confirmed].map(sendOrder)),
      'R1 confirmed in send order',
      `${where}: confirmations came ${[...t.confirmed]}`,
    );
  // …and the outbox keeps send order always.
  check(
    increasing(outbox.map((e) => sendOrder(e.id))),
    'R1 outbox in send order',
    `${where}: the outbox holds ${outbox.map((e) => e.id)}`,
  );
  // R1: nothing confirmed that the server does not have.
  const atServer = new Set(firsts);
  for (const id of t.confirmed)
    check(atServer.has(id), 'R1 confirmed', `${where}: ${id} confirmed but not at the server`);
  // R7: every id on the wire is one the app sent.
  for (const link of server.links) {
    for (const record of link.log) {
      if (record.kind === 'send')
        check(
          order.has(record.message.id),
          'R7 same id',
          `${where}: unknown id ${record.message.id}`,
        );
    }
  }
  // R10: queued + in flight never exceed the bound.
  const { maxQueue } = snapshot.context.options;
  check(outbox.length <= maxQueue, 'R10 bound', `${where}: ${outbox.length} > ${maxQueue}`);
  // Nothing lost: every message is confirmed, rejected (reported dropped unless it was sent
  // after the close) or still in the outbox.
  const accounted = new Set([
    ...t.confirmed,
    ...t.dropped.map((e) => e.messageId),
    ...[...t.afterClose].filter((id) => t.rejected.has(id)),
    ...outbox.map((e) => e.id),
  ]);
  for (const id of order.keys())
    check(accounted.has(id), 'nothing vanishes unreported', `${where}: ${id} vanished`);
  // R2: a link that opened with streams watched starts with its resume and carries no send
  // before that resume succeeded (checked after every step, so the first send that came
  // too early is caught while the handshake is still unanswered).
  const current = server.current;
  if (current?.state === 'open' && !t.seenOpen.has(current)) {
    t.seenOpen.add(current);
    if (snapshot.context.positions.size > 0) t.handshakes.add(current);
  }
  for (const link of t.handshakes) {
    const [first] = link.log;
    check(
      first?.kind === 'resume',
      'R2 resume before flush',
      `${where}: link ${link.id} did not start with its resume`,
    );
    check(
      first.answer === 'ok' || !link.log.some((r) => r.kind === 'send'),
      'R2 resume before flush',
      `${where}: link ${link.id} carried a send before its resume succeeded`,
    );
  }
  // R4: open is entered only with an empty outbox.
  if (t.enteredOpen)
    check(
      outbox.length === 0,
      'R4 flush before open',
      `${where}: entered open with ${outbox.length} message(s) in the outbox`,
    );
  t.enteredOpen = false;
  // R5: at most one live link.
  check(server.live.length <= 1, 'R5 one link', `${where}: ${server.live.length} live links`);
  // What a listener saw break since the last check.
  const [broken] = t.broken;
  if (broken !== undefined) check(false, broken.rule, `${where}: ${broken.detail}`);
  // R18: positions never go back, and R23: an epoch never changes — unless a reset of the
  // stream's log was reported. A stream the app unwatched is forgotten: watching it again
  // starts wherever the app says.
  const watched = new Set<string>();
  for (const { stream, seq, epoch } of conn.positions()) {
    watched.add(stream);
    t.everWatched.add(stream);
    const last = t.lastPositions.get(stream);
    const reported = t.resets.has(stream) || t.resets.has('*');
    check(
      reported || last === undefined || seq >= last.seq,
      'R18 positions never go back',
      `${where}: ${stream} went back from ${last?.seq} to ${seq} with no reset reported`,
    );
    check(
      reported || last?.epoch === undefined || epoch === last.epoch,
      'R23 every reset is reported',
      `${where}: ${stream} moved from epoch ${last?.epoch} to ${epoch} with no reset reported`,
    );
    t.lastPositions.set(stream, { seq, epoch });
  }
  for (const stream of [...t.lastPositions.keys(), ...t.delivered.keys()]) {
    if (watched.has(stream)) continue;
    t.lastPositions.delete(stream);
    t.delivered.delete(stream);
  }
  t.resets.clear();
  // R21/R22: the server's app gets each serial of the session once — unless, after it got
  // it, `session-lost` was reported under 'resend' (the server forgot; it may get it again).
  const receipts = server.receivedBy(conn.session);
  for (let i = t.receiptsChecked; i < receipts.length; i++) {
    const serial = (receipts[i] as { serial?: number }).serial;
    if (serial === undefined) continue;
    const first = t.firstReceipt.get(serial);
    if (first === undefined) {
      t.firstReceipt.set(serial, i);
      continue;
    }
    check(
      t.lostAt.some((at) => first < at && at <= i),
      'R22 no serial twice unless session-lost (resend)',
      `${where}: the server's app got serial ${serial} (${receipts[i]?.id}) again with no session-lost reported under 'resend' since`,
    );
  }
  t.receiptsChecked = receipts.length;
  // A send the server confirmed on the live link resolves on that confirmation, every one
  // of a batch, not on some later resend.
  for (const id of t.pendingAcks.splice(0))
    check(
      t.confirmed.has(id),
      'send resolves on its ack',
      `${where}: ${id} was acked but not resolved`,
    );
  // R14: nothing alive after closed.
  if (snapshot.status === 'done') {
    const timers = pendingTimers(t.clock);
    check(timers === 0, 'R14 no timer after close', `${where}: ${timers} left`);
    check(
      Object.keys(snapshot.children).length === 0,
      'R14 no child after close',
      `${where}: a link actor is left`,
    );
    check(
      server.live.length === 0,
      'R14 no link after close',
      `${where}: ${server.live.length} live`,
    );
    check(
      outbox.length === 0,
      'R14 empty outbox after close',
      `${where}: ${outbox.length} message(s) left`,
    );
  }
}

/**
 * Once the connection is closed and settled: the invariants, then R14 — every promise
 * settled exactly once, confirmed xor rejected, and `dropped` fired for every rejection
 * made before the close.
 */
export function checkClosed(tracker: Tracker, where: string): void {
  const t = tracker as State;
  check(t.conn.state === 'closed', 'R14 closed', `${where}: ${t.conn.state}, not closed`);
  checkInvariants(t, where);
  const reported = new Set(t.dropped.map((e) => e.messageId));
  for (const id of t.order.keys()) {
    const settled = t.settledCount.get(id) ?? 0;
    check(
      settled === 1,
      'R14 every promise settled once',
      `${where}: ${id} settled ${settled} times`,
    );
    check(
      t.confirmed.has(id) !== t.rejected.has(id),
      'R14 confirmed xor rejected',
      `${where}: ${id}`,
    );
    if (t.rejected.has(id) && !t.afterClose.has(id))
      check(reported.has(id), 'dropped fires for every rejection', `${where}: ${id}`);
  }
}

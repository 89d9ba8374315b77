/**
 * The simulation's durable store (durable.md §4): connections on a simulated store that
 * crashes between any two writes. A crash is the process dying: the connection is
 * stopped without `close()`, everything it had in memory is gone, a write in flight lands
 * or not, and a new connection starts on what the store durably holds, with the same
 * server (which remembers sessions) and the same clock.
 *
 * Each process gets its own `Tracker` (test/support/invariants.ts), so every invariant of
 * the connection holds per process. Ids stay unique across processes: a new tracker is
 * first told of every message sent before, in order, under its id — the store's restored
 * ones follow their `restored` promises, the others are settled as they were (or as lost
 * with the process, never having been saved) — so send order and the server's receipts
 * are checked across crashes too.
 *
 * Across processes (`check` after every step, `finish` at the end):
 * - D1 nothing goes on the wire that the store does not hold as sent, at that moment;
 * - no serial is used for two messages (on the wire, and at the server's app), and the
 *   server's app gets each message at most once and each session's serials in order;
 * - D2 once no write is on its way, the store holds no message settled in this process;
 * - D3 `restored` fires once per process, with exactly what the store held;
 * - at the end, every message whose save completed reached the server's app exactly once
 *   or was reported dropped (its send or its `restored` promise rejected), and after
 *   `close()` the store holds nothing (D7).
 */
import { SimulatedClock } from 'xstate';
import { createMemoryServer, type MemoryServer } from '../../adapters/memory.js';
import { DeliveryError } from '../../machines/errors.js';
import { toArray } from '../../machines/queue.js';
import { type ConnectionOptions, createConnection } from '../../src/connection.js';
import { outboxStore } from '../../src/durable.js';
import { check, type Tracker, track } from './invariants.js';
import { guardWire, type ManualStore, manualStore, type UnsavedSend } from './manual-store.js';

export interface DurableWorldOptions {
  /** Connection options besides the transport, the clock and the store. */
  connection: Omit<ConnectionOptions, 'transport' | 'clock' | 'store'>;
  maxInFlight: number;
  dedupWindow: number;
  /** Writes complete at once (`at-once`), or each waits for `answerWrite` (`held`). */
  writes: 'at-once' | 'held';
}

type Settle = { resolve: () => void; reject: (error: unknown) => void };

/** One process: its connection's tracker, and what it was told the store held. */
interface Process {
  readonly tracker: Tracker;
  /** The ids the store held when the process started, in serial order. */
  readonly held: readonly string[];
  /** How often `restored` fired, and with which ids. */
  readonly restored: string[][];
  /** Ids carried over from earlier processes and not restored here. */
  readonly carried: Set<string>;
}

export class DurableWorld {
  readonly clock = new SimulatedClock();
  readonly server: MemoryServer;
  readonly store: ManualStore;
  private process: Process;
  private readonly unsaved: UnsavedSend[][] = [];
  /** Every drop any process reported, by id (the app heard of it). */
  private readonly reported = new Map<string, string>();
  /** Wire checks done so far: log entries checked per link. */
  private readonly wireChecked = new Map<unknown, number>();
  private readonly serialOf = new Map<string, string>();
  private readonly idOf = new Map<string, string>();
  /**
   * Writes that failed after the app closed the connection. The store actor tries once
   * more, then lets go: a store that keeps failing cannot be emptied, so after a second
   * failure D2 and D7 are not asked of the process.
   */
  private failedAfterClose = 0;
  crashes = 0;

  constructor(private readonly options: DurableWorldOptions) {
    this.server = createMemoryServer({
      record: true,
      heartbeatMs: 0,
      dedupWindow: options.dedupWindow,
      behaviour: { connect: 'hold', resume: 'hold', send: 'hold' },
    });
    this.store = manualStore({ autoOpen: true, autoWrite: () => options.writes === 'at-once' });
    this.process = this.start(undefined);
  }

  /** The live process's tracker. */
  get tracker(): Tracker {
    return this.process.tracker;
  }

  private start(previous: Tracker | undefined): Process {
    const { store, server, clock, options } = this;
    let durable = () => true;
    const wire = guardWire(server.transport({ maxInFlight: options.maxInFlight }), store, () =>
      durable(),
    );
    this.unsaved.push(wire.unsaved);
    const conn = createConnection({
      ...options.connection,
      store: outboxStore(store.store),
      transport: wire.transport,
      clock,
    });
    durable = () => conn.actor.getSnapshot().context.store !== undefined;
    const tracker = track(conn, server, clock);
    const held = [...store.held.messages.values()]
      .sort((a, b) => a.serial - b.serial)
      .map((message) => message.id);
    const process: Process = { tracker, held, restored: [], carried: new Set() };
    const waiting = new Map<string, Settle>();
    conn.on('restored', (messages) => {
      process.restored.push(messages.map((message) => message.id));
      for (const message of messages) {
        const settle = waiting.get(message.id);
        waiting.delete(message.id);
        if (settle) message.settled.then(settle.resolve, settle.reject);
      }
    });
    conn.on('dropped', (error) => this.reported.set(error.messageId, error.reason));
    if (previous !== undefined) this.carryOver(previous, process, waiting);
    return process;
  }

  /**
   * Tell the new tracker of every message sent before, in send order, so it numbers new
   * ones after them: a restored one settles by its `restored` promise; any other is
   * settled as it was, or rejected as lost with the process when it never was saved.
   */
  private carryOver(previous: Tracker, process: Process, waiting: Map<string, Settle>): void {
    const { tracker } = process;
    const earlier = [...previous.order.entries()].sort((a, b) => a[1] - b[1]);
    const holds = new Set(process.held);
    const dropped = new Map(previous.dropped.map((error) => [error.messageId, error]));
    for (const [id] of earlier) {
      const given = tracker.send((fresh) => {
        if (holds.has(fresh))
          return new Promise<void>((resolve, reject) => waiting.set(fresh, { resolve, reject }));
        if (previous.confirmed.has(fresh)) return Promise.resolve();
        return Promise.reject(new Error(`${fresh} was not delivered`));
      });
      check(given === id, 'simulation', `the new process numbered ${id} as ${given}`);
      if (holds.has(id)) continue;
      process.carried.add(id);
      if (previous.confirmed.has(id)) continue;
      tracker.dropped.push(
        dropped.get(id) ??
          new DeliveryError('closed', id, `message ${id} died with its process, never saved`),
      );
    }
  }

  /**
   * The process dies between two writes: the write in flight lands (`land`) or is lost,
   * and a new process starts on what the store holds.
   */
  crash(land: boolean): Tracker {
    const { tracker } = this.process;
    this.checkLost(tracker, land);
    const conn = tracker.conn;
    this.store.crash(land);
    // Stopped, not closed: nothing more is written, the link is gone with the process.
    conn.actor.stop();
    this.crashes++;
    this.failedAfterClose = 0;
    this.process = this.start(tracker);
    return this.process.tracker;
  }

  /**
   * What a crash loses (in the outbox, not held) never reached the server (D1), and is
   * never followed by a message the store keeps: a crash may lose the last messages
   * sent, never one in the middle (D3).
   */
  private checkLost(tracker: Tracker, land: boolean): void {
    const held = new Set(this.store.held.messages.keys());
    if (land)
      for (const write of this.store.writes) {
        for (const { id } of write.batch.put ?? []) held.add(id);
        for (const id of write.batch.remove ?? []) held.delete(id);
      }
    const atServer = new Set(this.server.received.map((message) => message.id));
    const { queue, inFlight } = tracker.conn.actor.getSnapshot().context.outbox;
    let lost: string | undefined;
    for (const { id } of [...toArray(inFlight), ...toArray(queue)]) {
      if (!held.has(id)) {
        check(
          !atServer.has(id),
          'D1 saved before sent',
          `${id} reached the server's app, yet a crash loses it: the store never held it`,
        );
        lost ??= id;
      } else
        check(
          lost === undefined,
          'D3 a crash loses no message in the middle',
          `a crash loses ${lost}, not saved, but keeps ${id}, sent after it`,
        );
    }
  }

  /** The store answers the write on its way: saved, or failed (a full disk, D6). */
  answerWrite(ok: boolean): void {
    const [write] = this.store.writes;
    if (write === undefined) return;
    if (ok) write.complete();
    else {
      if (this.tracker.conn.state === 'closed') this.failedAfterClose++;
      write.fail(new Error('the simulated disk is full'));
    }
  }

  /** From now on every write completes at once (the disk behaves, for the healing). */
  heal(): void {
    this.store.autoWrite = () => true;
    for (const write of [...this.store.writes]) write.complete();
  }

  /** The rules of the store across processes, after every step. */
  check(where: string): void {
    for (const list of this.unsaved) {
      const [unsaved] = list;
      check(
        unsaved === undefined,
        'D1 saved before sent',
        `${where}: ${unsaved?.id} went on the wire, but ${unsaved?.detail}`,
      );
    }
    this.checkSerials(where);
    this.checkRestored(where);
    // Removals may wait for a write on its way, or for the next one after a failed write.
    const { store } = this;
    if (store.writes.length > 0 || store.failedSince || this.failedAfterClose > 1) return;
    const { tracker, carried } = this.process;
    const settled = [...tracker.confirmed, ...tracker.dropped.map((error) => error.messageId)];
    for (const id of settled)
      check(
        carried.has(id) || !this.store.held.messages.has(id),
        'D2 removed when settled',
        `${where}: ${id} was settled, yet the store still holds it with no write on its way`,
      );
  }

  /** No serial for two messages, none twice at the server's app, each session in order. */
  private checkSerials(where: string): void {
    for (const link of this.server.links) {
      const from = this.wireChecked.get(link) ?? 0;
      for (const record of link.log.slice(from)) {
        if (record.kind !== 'send') continue;
        const { id } = record.message;
        const serial = `${link.session} #${(record.message as { serial?: number }).serial}`;
        const other = this.idOf.get(serial);
        check(
          other === undefined || other === id,
          'a serial is never reused (the reservation, durable.md §2)',
          `${where}: ${id} went on the wire as ${serial}, which ${other} had`,
        );
        this.idOf.set(serial, id);
        const before = this.serialOf.get(id);
        check(
          before === undefined || before === serial,
          'R7 same id, same serial',
          `${where}: ${id} went on the wire as ${serial}, and before as ${before}`,
        );
        this.serialOf.set(id, serial);
      }
      this.wireChecked.set(link, link.log.length);
    }
    const seen = new Set<string>();
    for (const message of this.server.received) {
      check(
        !seen.has(message.id),
        'D4 exactly once across restarts',
        `${where}: the server's app got ${message.id} twice`,
      );
      seen.add(message.id);
    }
    for (const session of new Set(this.server.links.map((link) => link.session))) {
      if (session === undefined) continue;
      const serials = this.server
        .receivedBy(session)
        .map((m) => (m as { serial?: number }).serial ?? 0);
      check(
        serials.every((serial, i) => i === 0 || serial > (serials[i - 1] as number)),
        'D3 restored in order',
        `${where}: the server's app got session ${session}'s serials as ${serials}`,
      );
    }
  }

  /** `restored` fired once, with what the store held when the process started (D3). */
  private checkRestored(where: string): void {
    const { restored, held, tracker } = this.process;
    const status = tracker.conn.actor.getSnapshot().context.store?.status ?? 'memory';
    if (status === 'opening') return;
    check(
      restored.length === 1,
      'D3 restored once',
      `${where}: restored fired ${restored.length} times`,
    );
    check(
      restored[0]?.join() === held.join(),
      'D3 restored in order',
      `${where}: restored ${restored[0]}, the store held ${held}`,
    );
  }

  /**
   * Once the last process is closed: its writes are let through; then every message
   * whose save completed reached the server's app once or was reported dropped, and the
   * store holds nothing (D7) and was let go of.
   */
  async finish(where: string, settle: () => Promise<void>): Promise<void> {
    this.heal();
    for (let round = 0; round < 10 && this.store.writes.length > 0; round++) {
      for (const write of [...this.store.writes]) write.complete();
      await settle();
    }
    this.check(where);
    const got = new Set(this.server.received.map((message) => message.id));
    for (const id of this.store.everHeld)
      check(
        got.has(id) || this.reported.has(id),
        'D4 every saved message delivered or reported',
        `${where}: ${id} was saved, yet it never reached the server's app and no drop was reported`,
      );
    if (this.failedAfterClose > 1) return;
    const left = [...this.store.held.messages.keys()];
    check(
      left.length === 0,
      'D7 close empties the store',
      `${where}: the store still holds ${left}`,
    );
    check(!this.store.owned, 'D5 one owner', `${where}: the closed connection kept the store`);
  }
}

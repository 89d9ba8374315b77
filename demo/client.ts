/**
 * One demo client: a connection that sends numbered messages and watches the feed. With a
 * store folder (--durable) it keeps its outbox there, and `kill()` ends it the way a
 * crash would and starts it again on the same folder (demo/durable.ts).
 */
import {
  type Connection,
  type ConnectionOptions,
  createConnection,
  fullJitterBackoff,
  type RestoredMessage,
  type Transport,
} from '../src/index.js';
import { createServer } from '../src/server/index.js';
import { type KillableStore, killableStore } from './durable.js';

export interface ClientRun {
  name: string;
  transport: 'websocket' | 'sse';
  /** The connection now: a new one after each restart. */
  readonly conn: Connection;
  /** Messages `send()` was called for, numbered 1 … sent. */
  sent: number;
  /** How each number was settled: by its `send()` promise, or by a restored `settled`. */
  readonly outcomes: Map<number, 'confirmed' | 'dropped'>;
  reconnects: number;
  latencies: number[];
  /** Feed values in the order the app got them (cut back to the stored position at a restart). */
  feed: number[];
  /** With a store: the restarts, the numbers restored and every restored list's length summed. */
  readonly durable?: { restarts: number; restored: Set<number>; restoredTotal: number };
  /** With a store, while sending: end the connection as a crash would and start it again. */
  kill?: () => Promise<void>;
  /** Whether `kill()` may be called now (sending, and not in a restart). */
  readonly killable: boolean;
  /** Sends of the live connection not settled yet. */
  readonly unsettled: number;
  /** Resolves once every message was sent and every one that can settle has settled. */
  finished: Promise<void>;
  /** Resolves once the store of the connection now was let go (at once without a store). */
  readonly released: Promise<void>;
}

export interface ClientOptions {
  name: string;
  kind: 'websocket' | 'sse';
  transport: Transport;
  messages: number;
  random: () => number;
  log: (line: string) => void;
  intervalMs?: number;
  inspect?: ConnectionOptions['inspect'];
  /** A folder for a `fileStore` (--durable); without it, the outbox is in memory only. */
  storePath?: string | undefined;
}

export function startClient(options: ClientOptions): ClientRun {
  const { name, messages, random, log, storePath } = options;
  const tag = name.padEnd(6);
  let conn: Connection;
  let store: KillableStore | undefined;
  // Bumped by every kill: what the dead connection still reports is ignored.
  let generation = 0;
  let restarting = false;
  // The session of the connection killed last: a restart must go on with it.
  let lastSession = '';
  // Numbers waiting for a verdict from the live connection, and when each was sent.
  const unsettled = new Set<number>();
  const sentAt = new Map<number, number>();
  const feedSeqs: number[] = [];
  let done = () => {};

  const run: ClientRun = {
    name,
    transport: options.kind,
    get conn() {
      return conn;
    },
    sent: 0,
    outcomes: new Map(),
    reconnects: 0,
    latencies: [],
    feed: [],
    ...(storePath
      ? { durable: { restarts: 0, restored: new Set<number>(), restoredTotal: 0 } }
      : {}),
    get killable() {
      return storePath !== undefined && !restarting && run.sent < messages;
    },
    get unsettled() {
      return unsettled.size;
    },
    finished: new Promise<void>((resolve) => {
      done = resolve;
    }),
    get released() {
      return store?.released ?? Promise.resolve();
    },
  };

  const settle = (n: number, outcome: 'confirmed' | 'dropped') => {
    unsettled.delete(n);
    if (!run.outcomes.has(n) || outcome === 'confirmed') run.outcomes.set(n, outcome);
    checkFinished();
  };
  const checkFinished = () => {
    if (run.sent >= messages && unsettled.size === 0 && !restarting) done();
  };

  const connect = () => {
    const mine = generation;
    const live = () => mine === generation;
    store = storePath === undefined ? undefined : killableStore(storePath);
    conn = createConnection({
      transport: options.transport,
      ...(options.inspect ? { inspect: options.inspect } : {}),
      ...(store ? { store: store.store } : {}),
      backoff: fullJitterBackoff({ baseMs: 20, capMs: 300, random }),
      connectTimeoutMs: 1000,
      resumeTimeoutMs: 1000,
      heartbeatTimeoutMs: 400,
      maxDeliveryAttempts: 1000,
      maxQueue: messages,
    });
    conn.on('state', (to, from) => {
      if (!live()) return;
      if (to === 'reconnecting') run.reconnects++;
      log(`${tag} ${from} → ${to}`);
    });
    conn.on('error', (e) => {
      if (live()) log(`${tag} ${e.kind}: ${e.message.replace(/^holdfast: /, '')}`);
    });
    conn.on('message', (data, frame) => {
      if (!live()) return;
      run.feed.push(data as number);
      feedSeqs.push(frame.seq ?? 0);
    });
    if (store === undefined) conn.watch('feed');
    else conn.on('restored', (list) => live() && restore(conn, list));
  };

  // The store opened: what it held is sent first; the feed goes on from the stored position.
  const restore = (current: Connection, list: readonly RestoredMessage[]) => {
    const durable = run.durable;
    if (durable === undefined) return;
    const mine = generation;
    for (const message of list) {
      const { n } = message.data as { n: number };
      durable.restored.add(n);
      unsettled.add(n);
      message.settled.then(
        () => mine === generation && settle(n, 'confirmed'),
        () => mine === generation && settle(n, 'dropped'),
      );
    }
    // The app's feed is as durable as the position the store kept: what came after it
    // died with the process and comes again.
    const at = current.positions().find((p) => p.stream === 'feed');
    const keep = at === undefined ? 0 : feedSeqs.findIndex((seq) => seq > at.seq);
    if (keep >= 0) {
      run.feed.length = keep;
      feedSeqs.length = keep;
    }
    if (at === undefined) current.watch('feed');
    if (!restarting) return;
    restarting = false;
    durable.restarts++;
    durable.restoredTotal += list.length;
    log(
      `${tag} restarted on the same folder: ${list.length} message(s) restored, session ${current.session === lastSession ? 'kept' : 'NEW'}, feed from seq ${at?.seq ?? 0}`,
    );
    checkFinished();
  };

  if (storePath !== undefined) {
    run.kill = async () => {
      if (!run.killable || store === undefined) return;
      restarting = true;
      generation++;
      const lost = unsettled.size;
      unsettled.clear(); // their promises died with the process
      lastSession = conn.session;
      const dying = store;
      const released = dying.kill();
      conn.actor.stop(); // no close(): a crash
      log(`${tag} killed without close(): ${lost} unconfirmed send(s) forgotten in memory`);
      await released;
      connect();
    };
  }

  connect();
  const timer = setInterval(() => {
    if (restarting) return; // the process is down: nothing calls send()
    if (run.sent >= messages) {
      clearInterval(timer);
      checkFinished();
      return;
    }
    const mine = generation;
    const n = ++run.sent;
    sentAt.set(n, performance.now());
    unsettled.add(n);
    conn.send({ client: name, n }).then(
      () => {
        if (mine !== generation) return;
        run.latencies.push(performance.now() - (sentAt.get(n) ?? 0));
        settle(n, 'confirmed');
      },
      () => mine === generation && settle(n, 'dropped'),
    );
  }, options.intervalMs ?? 5);
  return run;
}

/** The reference server for the demo and the soak, recording each client's numbers in arrival order. */
export function recordingServer(heartbeatMs: number) {
  const arrivals = new Map<string, number[]>();
  const server = createServer({
    heartbeatMs,
    onMessage: ({ data }) => {
      const { client, n } = data as { client: string; n: number };
      const list = arrivals.get(client) ?? [];
      arrivals.set(client, list);
      list.push(n);
    },
  });
  return { server, arrivals };
}

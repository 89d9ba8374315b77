import { type Actor, createActor, type InspectionEvent, type Observer } from 'xstate';
import type { StreamPosition } from '../adapters/transport.js';
import { connectionMachine } from '../machines/connection.machine.js';
import {
  DeliveryError,
  describeError,
  describeValue,
  invalidArgument,
} from '../machines/errors.js';
import { type ConnectionInput, resolveOptions } from '../machines/options.js';
import { isOverLimit, jsonBytes } from '../machines/outbox.js';
import { type ConnectionEvent, positionList } from '../machines/types.js';
import { type ClockLike, realClock } from './clock.js';
import { CONFIRMED, type PendingSend, PendingSends, pendingOf, WRITTEN } from './pending.js';
import { reportListenerError } from './report.js';
import { RESTORED, type TrackRestored } from './restored.js';
import type {
  ConnectionEventMap,
  ConnectionEventName,
  ConnectionState,
  SendOptions,
  SendReceipt,
} from './types.js';

/** Everything `createConnection` accepts: the machine's options, and how to run it. */
export interface ConnectionOptions extends ConnectionInput {
  /**
   * The clock every timer is scheduled on (`SimulatedClock` in tests). With
   * `connectionMachine`, pass it to `createActor` instead.
   * @default real timers; a 0 ms wait runs on the next turn of the event loop
   */
  clock?: ClockLike;
  /**
   * Passed to `createActor` (e.g. the Stately inspector). With `connectionMachine`, pass
   * it to `createActor` instead.
   * @default none
   */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

/**
 * A running connection. `TSend` types what `send()` takes and `TReceive` what `message`
 * listeners get; both default to `unknown` (the server's frames are untrusted: narrow
 * them before trusting the type).
 */
export interface Connection<TSend = unknown, TReceive = unknown> {
  /** The current top-level state. */
  readonly state: ConnectionState;
  /**
   * Queue a message. Resolves once the server confirmed it (`{ confirmed: true }`), or,
   * with a `delivery: 'written'` transport, once it was written (`{ confirmed: false }`);
   * rejects with a `DeliveryError` (and fires `dropped`) when it will not be delivered.
   */
  send(data: TSend, options?: SendOptions): Promise<SendReceipt>;
  /**
   * Resume this stream from `fromSeq` on every new link (and at once on a usable one).
   * `epoch`: the epoch `fromSeq` counts in, from an earlier `positions()` (protocol v2).
   * Without `fromSeq`: from 0, or, with a store, from where the store says it was (D3).
   */
  watch(stream: string, fromSeq?: number, epoch?: string): void;
  /** Stop tracking a stream. */
  unwatch(stream: string): void;
  /** The session id every link of this connection carries (protocol v2). */
  readonly session: string;
  /** The last seq seen on each watched stream, with its epoch where a v2 server named one. */
  positions(): StreamPosition[];
  /** Pause: send the suspend notice once if the link is open, close it, stop every timer. */
  suspend(): void;
  /** Open a fresh link now (from suspended, open, flushing or reconnecting). */
  resume(): void;
  /** Close for good: every queued and in-flight message is dropped with `closed`. */
  close(): void;
  /** Add a listener; returns the function that removes it. */
  on<K extends ConnectionEventName>(
    event: K,
    listener: ConnectionEventMap<TReceive>[K],
  ): () => void;
  /** The running XState actor, for inspection and embedding. */
  readonly actor: Actor<typeof connectionMachine>;
}

function topLevel(value: unknown): ConnectionState {
  return (typeof value === 'string' ? value : Object.keys(value as object)[0]) as ConnectionState;
}

const EVENT_NAMES: ReadonlySet<string> = new Set([
  'state',
  'open',
  'message',
  'dropped',
  'error',
  'restored',
]);

/**
 * Open a connection and keep it: a thin layer over `connectionMachine` that adds a
 * promise per send and typed listeners. Starts connecting at once. Throws a `TypeError`
 * naming the option when an option is wrong.
 */
export function createConnection<TSend = unknown, TReceive = unknown>(
  options: ConnectionOptions,
): Connection<TSend, TReceive> {
  const resolved = resolveOptions(options);
  const actor = createActor(connectionMachine, {
    input: options,
    clock: options.clock ?? realClock,
    ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
  });

  const listeners = new Map<ConnectionEventName, Set<(...args: never[]) => void>>();
  const pending = new PendingSends();
  // Ids from the default createId cannot collide; any other id is checked (spec §3).
  const idsMayCollide = options.createId !== undefined;
  // In open, the sends of the current tick, handed to the machine as one `send` event at
  // the end of the tick: one macrostep per burst instead of one per message. Any other
  // command hands them over first, so the machine sees every call in the app's order.
  let outgoing: PendingSend[] = [];

  function fire<K extends ConnectionEventName>(
    event: K,
    ...args: Parameters<ConnectionEventMap[K]>
  ): void {
    const set = listeners.get(event);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as (...a: Parameters<ConnectionEventMap[K]>) => void)(...args);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }

  // `dropped` is never fired inside a `send()` call (a listener that sends again must not
  // recurse): drops made during one wait for the next microtask, and later drops queue
  // behind them, so listeners still see every drop in order.
  let sending = 0;
  let deferred: DeliveryError[] | undefined;
  let closedWhileDeferred = false;
  function fireDeferred(): void {
    const errors = deferred ?? [];
    deferred = undefined;
    for (const error of errors) fire('dropped', error);
    if (closedWhileDeferred) listeners.clear();
  }
  function drop(error: DeliveryError, tag: unknown): void {
    pendingOf(tag)?.reject(error);
    if (sending === 0 && deferred === undefined) {
      fire('dropped', error);
      return;
    }
    if (deferred === undefined) {
      deferred = [];
      queueMicrotask(fireDeferred);
    }
    deferred.push(error);
  }

  // Restored messages (D3) settle through promises of their own; the store brings the
  // code (`restored.ts`): a connection without one carries none of it.
  const restored = (resolved.store as { [RESTORED]?: TrackRestored } | undefined)?.[RESTORED]?.(
    actor,
    (messages) => fire('restored', messages),
  );
  actor.on('delivered', ({ messages, confirmed }) => {
    const receipt = confirmed ? CONFIRMED : WRITTEN;
    for (const message of messages) {
      const pending = pendingOf(message.tag);
      if (pending !== undefined) pending.resolve(receipt);
      else restored?.settle(message.id);
    }
  });
  actor.on('dropped', ({ error, message }) => {
    if (message.tag === undefined) restored?.settle(message.id, error);
    drop(error, message.tag);
  });
  actor.on('message', ({ data, frame }) => fire('message', data, frame));
  actor.on('error', ({ error }) => fire('error', error));

  let state: ConnectionState = 'connecting';
  const subscription = actor.subscribe({
    next(snapshot) {
      const to = topLevel(snapshot.value);
      if (to === state) return;
      const from = state;
      state = to;
      fire('state', to, from);
      if (to === 'open') fire('open');
      if (to === 'closed') {
        // Sends of this tick the machine never saw: reported while listeners remain.
        const unsent = outgoing;
        outgoing = [];
        for (const send of unsent) drop(DeliveryError.closed(send.id, false), send);
        // Nothing outlives a closed connection (R14), once every drop was reported.
        if (deferred === undefined) listeners.clear();
        else closedWhileDeferred = true;
        subscription?.unsubscribe();
      }
    },
    error: reportListenerError,
  });
  actor.start();

  const isClosed = () => actor.getSnapshot().status !== 'active';

  function handOver(): void {
    if (outgoing.length === 0) return;
    const messages = outgoing;
    outgoing = [];
    if (!isClosed()) {
      actor.send({ type: 'send', messages });
      return;
    }
    // Closed since they were sent (a fatal close from the server, say): never lost silently.
    for (const send of messages) drop(DeliveryError.closed(send.id, false), send);
  }
  // An abort withdraws a send the machine has not seen yet (a send of this tick in open)
  // here; the machine withdraws one that is queued but never was on the wire (R19).
  function withdraw(send: PendingSend): void {
    const at = outgoing.indexOf(send);
    if (at < 0) {
      command({ type: 'abort', id: send.id });
      return;
    }
    outgoing.splice(at, 1);
    drop(DeliveryError.aborted(send.id), send);
  }
  function command(event: Exclude<ConnectionEvent, { type: 'send' }>): void {
    handOver();
    if (!isClosed()) actor.send(event);
  }

  function sendNow(data: unknown, sendOptions: SendOptions | undefined): Promise<SendReceipt> {
    // Not destructuring with defaults: no options object per send on the hot path.

    const given = sendOptions?.id;
    const id = given === undefined ? resolved.createId() : given;
    const retry = sendOptions?.retry === undefined ? true : sendOptions.retry;
    const signal = sendOptions?.signal;
    if (typeof id !== 'string' || id === '') {
      return Promise.reject(invalidArgument('send() id', 'a non-empty string', id));
    }
    if (typeof retry !== 'boolean') {
      return Promise.reject(invalidArgument('send() retry', 'true or false', retry));
    }
    if (
      signal !== undefined &&
      (typeof signal !== 'object' || typeof signal.addEventListener !== 'function')
    ) {
      return Promise.reject(invalidArgument('send() signal', 'an AbortSignal', signal));
    }
    const claim = given !== undefined || idsMayCollide;
    // A restored message still pending holds its id too (D3).
    if (claim && (pending.has(id) || restored?.has(id) === true)) {
      return Promise.reject(
        new TypeError(`holdfast: send() id ${describeValue(id)} is already pending`),
      );
    }
    // Serialised once, here: a value that is not JSON fails at the call, not on a wire.
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (error) {
      return Promise.reject(
        new TypeError(`holdfast: send() data must serialise to JSON: ${describeError(error)}`),
      );
    }
    if (typeof json !== 'string') {
      return Promise.reject(invalidArgument('send() data', 'a JSON value', data));
    }
    const tag = pending.open(id, data, json, retry, claim);
    if (isClosed()) {
      drop(DeliveryError.closed(id, false), tag);
    } else if (signal?.aborted) {
      drop(DeliveryError.aborted(id), tag);
    } else if (isOverLimit(json, resolved.maxMessageBytes)) {
      drop(DeliveryError.tooLarge(id, jsonBytes(json), resolved.maxMessageBytes), tag);
    } else {
      if (signal !== undefined) {
        tag.signal = signal;
        tag.onAbort = () => withdraw(tag);
        signal.addEventListener('abort', tag.onAbort, { once: true });
      }
      if (state !== 'open') {
        // Anywhere else a link event could overtake the burst and open before it (R4).
        handOver();
        actor.send({ type: 'send', messages: [tag] });
      } else if (outgoing.push(tag) === 1) queueMicrotask(handOver);
    }
    return tag.promise;
  }

  return {
    get state() {
      return topLevel(actor.getSnapshot().value);
    },
    get actor() {
      return actor;
    },

    send(data, sendOptions) {
      sending++;
      try {
        return sendNow(data, sendOptions);
      } finally {
        sending--;
      }
    },
    get session() {
      return actor.getSnapshot().context.session;
    },

    watch(stream, fromSeq, epoch) {
      // The limit both ends agree on: a server refuses a longer name in every resume.
      if (typeof stream !== 'string' || stream === '' || stream.length > 256) {
        throw invalidArgument('watch() stream', 'a string of 1–256 characters', stream);
      }
      if (fromSeq !== undefined && (!Number.isSafeInteger(fromSeq) || fromSeq < 0)) {
        throw invalidArgument('watch() fromSeq', 'an integer ≥ 0', fromSeq);
      }
      if (
        epoch !== undefined &&
        (typeof epoch !== 'string' || epoch.length < 1 || epoch.length > 64)
      )
        throw invalidArgument('watch() epoch', 'a string of 1–64 characters', epoch);
      // Without `fromSeq` the machine starts at 0, or where a store says this stream was.
      command({
        type: 'watch',
        stream,
        ...(fromSeq === undefined ? {} : { seq: fromSeq }),
        ...(epoch === undefined ? {} : { epoch }),
      });
    },
    unwatch(stream) {
      command({ type: 'unwatch', stream });
    },
    positions() {
      return positionList(actor.getSnapshot().context.positions);
    },
    suspend() {
      command({ type: 'suspend' });
    },
    resume() {
      command({ type: 'resume' });
    },
    close() {
      command({ type: 'close' });
    },

    on(event, listener) {
      if (!EVENT_NAMES.has(event)) {
        throw invalidArgument('on() event', `one of ${[...EVENT_NAMES].join(', ')}`, event);
      }
      if (typeof listener !== 'function') {
        throw invalidArgument(`on('${event}') listener`, 'a function', listener);
      }
      if (isClosed()) return () => {};
      let set = listeners.get(event);
      if (set === undefined) {
        set = new Set();
        listeners.set(event, set);
      }
      const added = listener as (...args: never[]) => void;
      set.add(added);
      return () => {
        listeners.get(event)?.delete(added);
      };
    },
  };
}

/**
 * The connection statechart: the one place that decides what is sent when.
 *
 * Top-level states are exactly the six of spec §4. The link is a child actor (`link`)
 * spawned on entry to an `opening` state and stopped whenever the machine lets go of it,
 * so a replaced link cannot change anything (R5). `link.*` events are handled only in the
 * states that hold a link: `opening` and `resuming` (of connecting and reconnecting),
 * `flushing` and `open`. The outbox lives in context. Nothing here does I/O: the link
 * actor moves the bytes, and every side effect is a named action.
 *
 * A failed attempt inside reconnecting targets `reconnecting` itself: a transition to an
 * ancestor exits and re-enters it, so its entry runs again — let go of the link,
 * requeue, plan the next backoff.
 */
import { connectionSetup } from './connection.setup.js';
import { type ResolvedOptions, resolveOptions } from './options.js';
import { emptyOutbox } from './outbox.js';
import { emptyPositions } from './positions.js';
import type { ConnectionContext } from './types.js';

const RECONNECT = { target: '#holdfast.reconnecting' } as const;

/**
 * A link reported itself gone: fatal closes for good, and so does a second credentials
 * refusal in a row (R17); anything else reconnects.
 */
const linkClosed = {
  'link.closed': [
    { guard: 'isFatal', target: '#holdfast.closed', actions: 'closeAsFatal' },
    { guard: 'isAuthRefusedAgain', target: '#holdfast.closed', actions: 'closeAsFatal' },
    { ...RECONNECT, actions: 'reportLinkLost' },
  ],
} as const;

/** In open, a refusal is never the second in a row: reaching open cleared the first. */
const linkClosedWhenOpen = {
  'link.closed': [
    { guard: 'isFatal', target: '#holdfast.closed', actions: 'closeAsFatal' },
    { ...RECONNECT, actions: 'reportLinkLost' },
  ],
} as const;

/** What a greeted link (resuming, flushing, open) can do beyond an opening one. */
const greeted = {
  ...linkClosed,
  'link.watch-failed': { ...RECONNECT, actions: 'reportResumeFailed' },
  // The link can carry the notice and a late watch's resume (R13, R20).
  suspend: { target: '#holdfast.suspended', actions: 'sendSuspendNotice' },
  watch: { actions: ['resumeWatchedStream', 'watchStream', 'savePositions'] },
  // The server is told to stop; the app stops getting its frames at once either way.
  unwatch: { actions: ['unwatchOverLink', 'unwatchStream', 'savePositions'] },
} as const;

/**
 * One link attempt: open a link, then resume the watched streams on it (R2), with a
 * timeout each (R16). The same in connecting and reconnecting.
 */
const linkAttempt = {
  opening: {
    entry: 'openLink',
    after: { connectTimeout: { ...RECONNECT, actions: 'reportConnectTimeout' } },
    // Nothing but open or closed: a link delivers frames only once greeted (transport.ts).
    on: {
      ...linkClosed,
      'link.open': [
        {
          guard: 'hasWatchedStreams',
          target: 'resuming',
          actions: ['noteWelcome', 'checkSession'],
        },
        { target: '#holdfast.flushing', actions: ['noteWelcome', 'checkSession'] },
      ],
    },
  },
  resuming: {
    entry: 'sendHandshake',
    after: { resumeTimeout: { ...RECONNECT, actions: 'reportResumeTimeout' } },
    on: {
      ...greeted,
      // Replayed frames arrive while resuming, each stream's after a v2 server named its
      // epoch and head (spec §5).
      'link.stream': { actions: ['receiveStreamHead', 'savePositions'] },
      'link.frame': { actions: ['receiveFrame', 'savePositions'] },
      'link.resumed': { target: '#holdfast.flushing' },
      'link.resume-failed': { ...RECONNECT, actions: 'reportResumeFailed' },
    },
  },
} as const;

/**
 * A usable link (flushing, open): sends go straight on the wire, verdicts settle them,
 * and every sign of life restarts the silence timer (R15).
 */
const usable = {
  initial: 'heartbeat',
  states: {
    heartbeat: {
      after: {
        heartbeatTimeout: { guard: 'heartbeatEnabled', ...RECONNECT, actions: 'reportSilence' },
      },
      // `reenter`: a transition to the state itself leaves it and enters it again only
      // with it, and only that restarts its `after` timer. Only `heartbeat` is re-entered,
      // not flushing or open, whose entry actions must not run per frame.
      on: {
        'link.frame': {
          target: 'heartbeat',
          reenter: true,
          actions: ['receiveFrame', 'savePositions'],
        },
        'link.alive': { target: 'heartbeat', reenter: true },
        // A stream frame (a late watch's resume) is a sign of life too (transport.ts).
        'link.stream': {
          target: 'heartbeat',
          reenter: true,
          actions: ['receiveStreamHead', 'savePositions'],
        },
      },
    },
  },
  on: {
    ...greeted,
    send: { actions: 'enqueueAndSend' },
    // Saved as sent: what waited for that write may go on the wire now (D1).
    'store.saved': { actions: ['noteStoreSaved', 'pump'] },
    'store.write-failed': { actions: ['rejectUnsaved', 'pump'] },
    // The oldest message in flight went unconfirmed on a live link: it is broken (R16).
    'ack.timeout': { ...RECONNECT, actions: 'reportAckTimeout' },
    'link.verdicts': [
      { guard: 'sendFailed', ...RECONNECT, actions: ['settleVerdicts', 'reportSendFailure'] },
      { actions: ['settleVerdicts', 'pump'] },
    ],
  },
} as const;

const NONE: ReadonlySet<string> = new Set();

/** The context a connection starts with; a store's session replaces the option's (D3). */
function initialContext(options: ResolvedOptions): ConnectionContext {
  const durable = options.store !== undefined;
  return {
    options,
    outbox: emptyOutbox,
    positions: emptyPositions(),
    backoffAttempt: 0,
    backoffMs: 0,
    linkAttempts: 0,
    written: 0,
    nextSerial: 1,
    session: options.session,
    authRefused: false,
    serverHeartbeatMs: 0,
    closedBy: undefined,
    // Only with a store: an idle connection without one carries no field for it.
    ...(durable
      ? {
          store: {
            status: 'opening',
            watchedUnpositioned: NONE,
            requested: 0,
            barrier: 0,
            saved: 0,
          } as const,
        }
      : {}),
  };
}

export const connectionMachine = connectionSetup.createMachine({
  id: 'holdfast',
  context: ({ input }) => initialContext(resolveOptions(input)),
  entry: 'openStore',
  initial: 'connecting',
  on: {
    send: { actions: 'enqueue' },
    abort: { actions: 'withdraw' },
    watch: { actions: ['watchStream', 'savePositions'] },
    unwatch: { actions: ['unwatchStream', 'savePositions'] },
    suspend: { target: '.suspended' },
    resume: { target: '.connecting', actions: 'resetAttempts' },
    close: { target: '.closed' },
    // The store, whatever the state (durable.md D3, D5, D6).
    'store.opened': { actions: 'restoreOutbox' },
    'store.busy': { actions: 'reportStoreBusy' },
    'store.open-failed': [
      { guard: 'fallsBackToMemory', actions: 'fallBackToMemory' },
      { target: '.closed', actions: 'closeAsStoreFailed' },
    ],
    'store.saved': { actions: 'noteStoreSaved' },
    'store.write-failed': { actions: 'rejectUnsaved' },
  },
  states: {
    connecting: {
      entry: ['reportUnconfirmedWrites', 'cancelAckTimer', 'requeueInFlight', 'announceConnecting'],
      // A store is opened first: no link before it is (D3).
      initial: 'restoring',
      on: { resume: {} },
      states: {
        restoring: { always: { guard: 'storeSettled', target: 'opening' } },
        ...linkAttempt,
      },
    },
    reconnecting: {
      entry: [
        'dropLink',
        'reportUnconfirmedWrites',
        'cancelAckTimer',
        'requeueInFlight',
        'planBackoff',
        'announceReconnecting',
      ],
      initial: 'waiting',
      states: {
        waiting: {
          always: {
            guard: 'attemptsExhausted',
            target: '#holdfast.closed',
            actions: 'closeAsExhausted',
          },
          after: { backoff: { target: 'opening' } },
        },
        ...linkAttempt,
      },
    },
    flushing: {
      entry: ['markLinkUsable', 'pump', 'announceFlushing'],
      always: { guard: 'outboxEmpty', target: 'open' },
      ...usable,
    },
    open: {
      entry: ['resetBackoff', 'announceOpen'],
      ...usable,
      on: { ...usable.on, ...linkClosedWhenOpen },
    },
    suspended: {
      entry: [
        'dropLink',
        'reportUnconfirmedWrites',
        'cancelAckTimer',
        'requeueInFlight',
        'announceSuspended',
      ],
      on: { suspend: {} },
    },
    closed: {
      type: 'final',
      entry: [
        'dropLink',
        'reportUnconfirmedWrites',
        'cancelAckTimer',
        'rejectEverything',
        'stopStore',
        'announceClosed',
      ],
    },
  },
});

export type ConnectionMachine = typeof connectionMachine;

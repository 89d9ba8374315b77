/**
 * The connection statechart: the one place that decides what is sent when.
 *
 * Top-level states are exactly the six of spec §4. The link is a child actor (`link`)
 * spawned on entry to an `opening` state and stopped whenever the machine lets go of it,
 * so a replaced link cannot change anything (R5). The outbox lives in context. Nothing
 * here does I/O: the link actor moves the bytes, and every side effect is a named action.
 */
import { resolveOptions } from '../src/options.js';
import { connectionSetup } from './connection.setup.js';
import { emptyOutbox } from './outbox.js';

export const connectionMachine = connectionSetup.createMachine({
  id: 'holdfast',
  context: ({ input }) => ({
    options: resolveOptions(input),
    outbox: emptyOutbox,
    positions: new Map(),
    attempt: 0,
    backoffMs: 0,
    failedAttempts: 0,
    closedBy: undefined,
  }),
  initial: 'connecting',
  on: {
    send: { actions: 'enqueue' },
    abort: { actions: 'withdraw' },
    watch: [
      { guard: 'linkIsOpen', actions: ['resumeWatchedStream', 'watchStream'] },
      { actions: 'watchStream' },
    ],
    unwatch: { actions: 'unwatchStream' },
    suspend: [
      { guard: 'linkIsOpen', target: '.suspended', actions: 'sendSuspendNotice' },
      { target: '.suspended' },
    ],
    resume: { target: '.connecting', actions: 'resetAttempts' },
    close: { target: '.closed' },
    'link.frame': { actions: 'receiveFrame' },
    // Every link failure lands here, whichever state the link was in.
    'link.closed': [
      { guard: 'isFatal', target: '.closed', actions: 'closeAsFatal' },
      { target: '.reconnecting', actions: 'reportLinkLost' },
    ],
    'link.watch-failed': { target: '.reconnecting', actions: 'reportResumeFailed' },
    // Verdicts only exist while a link carries sends, which is only in flushing and open.
    'link.verdicts': [
      {
        guard: 'sendFailed',
        target: '.reconnecting',
        actions: ['settleVerdicts', 'reportSendFailure'],
      },
      { actions: ['settleVerdicts', 'pump'] },
    ],
  },
  states: {
    connecting: {
      entry: 'requeueInFlight',
      initial: 'opening',
      on: { resume: {} },
      states: {
        opening: {
          entry: 'openLink',
          after: {
            connectTimeout: {
              target: '#holdfast.reconnecting',
              actions: 'reportConnectTimeout',
            },
          },
          on: {
            'link.open': [
              { guard: 'hasWatchedStreams', target: 'resuming' },
              { target: '#holdfast.flushing' },
            ],
          },
        },
        resuming: {
          entry: 'sendHandshake',
          after: {
            resumeTimeout: {
              target: '#holdfast.reconnecting',
              actions: 'reportResumeTimeout',
            },
          },
          on: {
            'link.resumed': { target: '#holdfast.flushing' },
            'link.resume-failed': {
              target: '#holdfast.reconnecting',
              actions: 'reportResumeFailed',
            },
          },
        },
      },
    },
    reconnecting: {
      entry: ['dropLink', 'requeueInFlight', 'planBackoff'],
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
        opening: {
          entry: 'openLink',
          after: {
            connectTimeout: {
              target: '#holdfast.reconnecting',
              reenter: true,
              actions: 'reportConnectTimeout',
            },
          },
          on: {
            'link.open': [
              { guard: 'hasWatchedStreams', target: 'resuming' },
              { target: '#holdfast.flushing' },
            ],
          },
        },
        resuming: {
          entry: 'sendHandshake',
          after: {
            resumeTimeout: {
              target: '#holdfast.reconnecting',
              reenter: true,
              actions: 'reportResumeTimeout',
            },
          },
          on: {
            'link.resumed': { target: '#holdfast.flushing' },
            'link.resume-failed': {
              target: '#holdfast.reconnecting',
              reenter: true,
              actions: 'reportResumeFailed',
            },
          },
        },
      },
    },
    flushing: {
      entry: ['markLinkUsable', 'pump'],
      always: { guard: 'outboxEmpty', target: 'open' },
      initial: 'live',
      states: {
        live: {
          after: {
            heartbeatTimeout: {
              guard: 'heartbeatEnabled',
              target: '#holdfast.reconnecting',
              actions: 'reportSilence',
            },
          },
        },
      },
      on: {
        send: { actions: 'enqueueAndSend' },
        'link.frame': { target: '.live', reenter: true, actions: 'receiveFrame' },
        'link.alive': { target: '.live', reenter: true },
      },
    },
    open: {
      entry: 'resetBackoff',
      initial: 'live',
      states: {
        live: {
          after: {
            heartbeatTimeout: {
              guard: 'heartbeatEnabled',
              target: '#holdfast.reconnecting',
              actions: 'reportSilence',
            },
          },
        },
      },
      on: {
        send: { actions: 'enqueueAndSend' },
        'link.frame': { target: '.live', reenter: true, actions: 'receiveFrame' },
        'link.alive': { target: '.live', reenter: true },
      },
    },
    suspended: {
      entry: ['dropLink', 'requeueInFlight'],
      on: { suspend: {} },
    },
    closed: {
      type: 'final',
      entry: ['dropLink', 'rejectEverything'],
    },
  },
});

export type ConnectionMachine = typeof connectionMachine;

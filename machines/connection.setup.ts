/**
 * The named implementations of the connection machine: its guards, actions, delays and
 * the link actor, as one `setup()`. The statechart itself, which only names them, is in
 * `connection.machine.ts`.
 */
import {
  assertEvent,
  assign,
  enqueueActions,
  or,
  setup,
  spawnChild,
  stateIn,
  stopChild,
} from 'xstate';
import { linkActor } from '../adapters/link-actor.js';
import type { LinkClose } from '../adapters/transport.js';
import { ConnectionError, DeliveryError } from '../src/errors.js';
import { backoffDelay } from '../src/options.js';
import { readFrame } from './frames.js';
import {
  allEntries,
  emptyOutbox,
  enqueue as enqueueMessage,
  type OutboxEntry,
  outboxSize,
  requeueInFlight,
  settle,
  takeForSending,
  withdraw,
} from './outbox.js';
import {
  type ConnectionContext,
  type ConnectionEmitted,
  type ConnectionEvent,
  type ConnectionInput,
  positionList,
} from './types.js';

function linkLost(info: LinkClose): ConnectionError {
  const detail = [info.code === undefined ? '' : `code ${info.code}`, info.reason ?? '']
    .filter(Boolean)
    .join(': ');
  const kind = info.fatal ? 'fatal' : info.protocol ? 'protocol' : 'link';
  const what = {
    fatal: 'the server refused this client for good',
    protocol: 'the server broke the protocol; reconnecting',
    link: 'the link was lost',
  }[kind];
  return new ConnectionError(kind, `holdfast: ${what}${detail ? ` (${detail})` : ''}`, {
    cause: info.error,
    ...(info.code === undefined ? {} : { code: info.code }),
  });
}

/** A message as the app sent it, before it was ever on the wire. */
function newEntry(
  event: { id?: string; data: unknown; retry?: boolean },
  createId: () => string,
): OutboxEntry {
  return {
    id: event.id ?? createId(),
    data: event.data,
    retry: event.retry !== false,
    attempts: 0,
  };
}

export const connectionSetup = setup({
  types: {} as {
    context: ConnectionContext;
    events: ConnectionEvent;
    input: ConnectionInput;
    emitted: ConnectionEmitted;
  },
  actors: { link: linkActor },
  delays: {
    connectTimeout: ({ context }) => context.options.connectTimeoutMs,
    resumeTimeout: ({ context }) => context.options.resumeTimeoutMs,
    heartbeatTimeout: ({ context }) => context.options.heartbeatTimeoutMs,
    backoff: ({ context }) => context.backoffMs,
  },
  guards: {
    hasWatchedStreams: ({ context }) => context.positions.size > 0,
    outboxEmpty: ({ context }) => outboxSize(context.outbox) === 0,
    heartbeatEnabled: ({ context }) => context.options.heartbeatTimeoutMs > 0,
    attemptsExhausted: ({ context }) => context.failedAttempts >= context.options.maxAttempts,
    isFatal: ({ event }) => event.type === 'link.closed' && event.info.fatal === true,
    isConfirmed: ({ event }) => event.type === 'link.outcome' && event.outcome.status === 'ok',
    isRefused: ({ event }) => event.type === 'link.outcome' && event.outcome.status === 'rejected',
    // The link has greeted us: it can carry a resume or a suspend notice.
    linkIsOpen: or([
      stateIn('#holdfast.connecting.resuming'),
      stateIn('#holdfast.reconnecting.resuming'),
      stateIn('#holdfast.flushing'),
      stateIn('#holdfast.open'),
    ]),
  },
  actions: {
    openLink: enqueueActions(({ context, enqueue }) => {
      // The old link is closed before the new one opens (R5).
      enqueue(stopChild('link'));
      enqueue(spawnChild('link', { id: 'link', input: { transport: context.options.transport } }));
      enqueue.assign({ failedAttempts: context.failedAttempts + 1 });
    }),
    dropLink: stopChild('link'),
    sendHandshake: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo('link', {
        type: 'link.resume',
        positions: positionList(context.positions),
        purpose: 'handshake',
      });
    }),
    sendSuspendNotice: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo('link', { type: 'link.suspend', positions: positionList(context.positions) });
    }),
    markLinkUsable: assign({ failedAttempts: 0 }),
    resetBackoff: assign({ attempt: 0 }),
    resetAttempts: assign({ attempt: 0, failedAttempts: 0 }),
    planBackoff: enqueueActions(({ context, enqueue }) => {
      const attempt = context.attempt + 1;
      enqueue.assign({ attempt, backoffMs: backoffDelay(context.options.backoff, attempt) });
    }),
    enqueue: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'send');
      const entry = newEntry(event, context.options.createId);
      const change = enqueueMessage(context.outbox, entry, context.options);
      enqueue.assign({ outbox: change.outbox });
      for (const error of change.dropped) enqueue.emit({ type: 'dropped', error });
    }),
    pump: enqueueActions(({ context, enqueue }) => {
      const { outbox, sent } = takeForSending(context.outbox, context.options.maxInFlight);
      if (sent.length === 0) return;
      enqueue.assign({ outbox });
      for (const { id, data } of sent)
        enqueue.sendTo('link', { type: 'link.send', message: { id, data } });
    }),
    // The hot path of a usable link: queue and put on the wire in one context update.
    enqueueAndSend: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'send');
      const entry = newEntry(event, context.options.createId);
      const change = enqueueMessage(context.outbox, entry, context.options);
      const { outbox, sent } = takeForSending(change.outbox, context.options.maxInFlight);
      if (outbox !== context.outbox) enqueue.assign({ outbox });
      for (const error of change.dropped) enqueue.emit({ type: 'dropped', error });
      for (const { id, data } of sent)
        enqueue.sendTo('link', { type: 'link.send', message: { id, data } });
    }),
    // Confirm and refill the window in one context update.
    confirm: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'link.outcome');
      const settled = settle(context.outbox, event.id);
      if (settled.entry === undefined) return;
      const { outbox, sent } = takeForSending(settled.outbox, context.options.maxInFlight);
      enqueue.assign({ outbox });
      enqueue.emit({ type: 'delivered', id: settled.entry.id });
      for (const { id, data } of sent)
        enqueue.sendTo('link', { type: 'link.send', message: { id, data } });
    }),
    refuse: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'link.outcome');
      const { outbox, entry } = settle(context.outbox, event.id);
      if (entry === undefined) return;
      const cause = event.outcome.status === 'rejected' ? event.outcome.error : undefined;
      const why =
        cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`;
      enqueue.assign({ outbox });
      enqueue.emit({
        type: 'dropped',
        error: new DeliveryError(
          'rejected',
          entry.id,
          `holdfast: the server rejected message ${entry.id}${why}`,
          {
            cause,
          },
        ),
      });
    }),
    requeueInFlight: enqueueActions(({ context, enqueue }) => {
      const change = requeueInFlight(context.outbox, context.options.maxDeliveryAttempts);
      if (change.outbox === context.outbox) return;
      enqueue.assign({ outbox: change.outbox });
      for (const error of change.dropped) enqueue.emit({ type: 'dropped', error });
    }),
    withdraw: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'abort');
      const { outbox, entry } = withdraw(context.outbox, event.id);
      if (entry === undefined) return;
      enqueue.assign({ outbox });
      enqueue.emit({
        type: 'dropped',
        error: new DeliveryError(
          'aborted',
          entry.id,
          `holdfast: message ${entry.id} was aborted before it was sent`,
        ),
      });
    }),
    rejectEverything: enqueueActions(({ context, enqueue }) => {
      const cause = context.closedBy;
      const why =
        cause === undefined
          ? 'the connection was closed'
          : cause.message.replace(/^holdfast: /, '');
      const entries = allEntries(context.outbox);
      enqueue.assign({ outbox: emptyOutbox });
      for (const { id } of entries) {
        enqueue.emit({
          type: 'dropped',
          error: new DeliveryError('closed', id, `holdfast: message ${id} not delivered: ${why}`, {
            cause,
          }),
        });
      }
    }),
    watchStream: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'watch');
      if (context.positions.has(event.stream)) return;
      enqueue.assign({ positions: new Map(context.positions).set(event.stream, event.seq ?? 0) });
    }),
    resumeWatchedStream: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'watch');
      // Only a stream that was not watched yet; an open link already resumed the others.
      if (context.positions.has(event.stream)) return;
      enqueue.sendTo('link', {
        type: 'link.resume',
        positions: [{ stream: event.stream, seq: event.seq ?? 0 }],
        purpose: 'watch',
      });
    }),
    unwatchStream: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'unwatch');
      if (!context.positions.has(event.stream)) return;
      const positions = new Map(context.positions);
      positions.delete(event.stream);
      enqueue.assign({ positions });
    }),
    receiveFrame: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'link.frame');
      const verdict = readFrame(context.positions, event.frame);
      if (verdict.positions !== context.positions) enqueue.assign({ positions: verdict.positions });
      if (verdict.deliver)
        enqueue.emit({ type: 'message', data: event.frame.data, frame: event.frame });
      if (verdict.error) enqueue.emit({ type: 'error', error: verdict.error });
    }),
    reportLinkLost: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'link.closed');
      enqueue.emit({ type: 'error', error: linkLost(event.info) });
    }),
    closeAsFatal: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'link.closed');
      const error = linkLost(event.info);
      enqueue.assign({ closedBy: error });
      enqueue.emit({ type: 'error', error });
    }),
    closeAsExhausted: enqueueActions(({ context, enqueue }) => {
      const error = new ConnectionError(
        'retries-exhausted',
        `holdfast: ${context.failedAttempts} link attempts in a row failed (maxAttempts ${context.options.maxAttempts})`,
      );
      enqueue.assign({ closedBy: error });
      enqueue.emit({ type: 'error', error });
    }),
    reportSendFailure: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'link.outcome');
      const { outcome } = event;
      const error =
        outcome.status === 'stale'
          ? new ConnectionError(
              'link',
              'holdfast: the server no longer knows this link (stale); reconnecting',
            )
          : new ConnectionError(
              'link',
              'holdfast: a send failed for a passing reason; reconnecting',
              {
                cause: outcome.status === 'retry' ? outcome.error : undefined,
              },
            );
      enqueue.emit({ type: 'error', error });
    }),
    reportResumeFailed: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, ['link.resume-failed', 'link.watch-failed']);
      const error = new ConnectionError(
        'link',
        'holdfast: the server did not resume the watched streams',
        {
          cause: event.error,
        },
      );
      enqueue.emit({ type: 'error', error });
    }),
    reportTimeout: enqueueActions(({ enqueue }, params: { what: string; ms: number }) => {
      enqueue.emit({
        type: 'error',
        error: new ConnectionError(
          'timeout',
          `holdfast: ${params.what} took longer than ${params.ms} ms`,
        ),
      });
    }),
  },
});

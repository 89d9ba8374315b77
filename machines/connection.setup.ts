/**
 * The named implementations of the connection machine: its guards, actions, delays and
 * the link actor, as one `setup()`. The statechart itself, which only names them, is in
 * `connection.machine.ts`.
 */
import {
  assertEvent,
  assign,
  emit,
  enqueueActions,
  or,
  setup,
  spawnChild,
  stateIn,
  stopChild,
} from 'xstate';
import { linkActor, type Verdict } from '../adapters/link-actor.js';
import type { LinkClose, OutboundMessage } from '../adapters/transport.js';
import { ConnectionError, DeliveryError } from '../src/errors.js';
import { backoffDelay } from '../src/options.js';
import { readFrame } from './frames.js';
import {
  allEntries,
  emptyOutbox,
  enqueueAll,
  type OutboxChange,
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
  type OutgoingMessage,
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

function timeout(what: string, ms: number): ConnectionEmitted {
  return {
    type: 'error',
    error: new ConnectionError('timeout', `holdfast: ${what} took longer than ${ms} ms`),
  };
}

/** A verdict that ends the link: the server forgot it (R6) or failed in passing (R12). */
function isLinkFailure({ outcome }: Verdict): boolean {
  return outcome.status === 'stale' || outcome.status === 'retry';
}

/** What goes on the wire: only id and data, never the outbox's own bookkeeping. */
function onTheWire(entries: readonly OutboxEntry[]): OutboundMessage[] {
  return entries.map(({ id, data }) => ({ id, data }));
}

/** The outbox with the app's messages added at the back, in order, and what fell out. */
function enqueueSent(
  context: ConnectionContext,
  event: OutgoingMessage | { messages: readonly OutgoingMessage[] },
): OutboxChange {
  const messages = 'messages' in event ? event.messages : [event];
  const { createId } = context.options;
  const entries = messages.map(
    (message): OutboxEntry => ({
      id: message.id ?? createId(),
      data: message.data,
      retry: message.retry !== false,
      attempts: 0,
      tag: message.tag,
    }),
  );
  return enqueueAll(context.outbox, entries, context.options);
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
    sendFailed: ({ event }) => event.type === 'link.verdicts' && event.verdicts.some(isLinkFailure),
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
      const { outbox, dropped } = enqueueSent(context, event);
      if (outbox !== context.outbox) enqueue.assign({ outbox });
      for (const drop of dropped) enqueue.emit({ type: 'dropped', ...drop });
    }),
    pump: enqueueActions(({ context, enqueue }) => {
      const { outbox, sent } = takeForSending(context.outbox, context.options.maxInFlight);
      if (sent.length === 0) return;
      enqueue.assign({ outbox });
      enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
    }),
    // The hot path of a usable link: queue and put on the wire in one context update.
    enqueueAndSend: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'send');
      const queued = enqueueSent(context, event);
      const { outbox, sent } = takeForSending(queued.outbox, context.options.maxInFlight);
      if (outbox !== context.outbox) enqueue.assign({ outbox });
      for (const drop of queued.dropped) enqueue.emit({ type: 'dropped', ...drop });
      if (sent.length > 0) enqueue.sendTo('link', { type: 'link.send', messages: onTheWire(sent) });
    }),
    // Every verdict up to the first that ends the link, in order: confirmations resolve
    // their sends, refusals drop theirs (R11). What follows a link failure stays in flight
    // and is requeued with the rest.
    settleVerdicts: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'link.verdicts');
      let { inFlight } = context.outbox;
      let delivered: OutboxEntry[] = [];
      for (const verdict of event.verdicts) {
        if (isLinkFailure(verdict)) break;
        const settled = settle(inFlight, verdict.id);
        if (settled.entry === undefined) continue;
        inFlight = settled.inFlight;
        const { outcome } = verdict;
        if (outcome.status === 'ok') {
          delivered.push(settled.entry);
          continue;
        }
        // Emitted in order, so promises settle in the order the verdicts came.
        if (delivered.length > 0) enqueue.emit({ type: 'delivered', messages: delivered });
        delivered = [];
        const cause = outcome.status === 'rejected' ? outcome.error : undefined;
        const why =
          cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`;
        enqueue.emit({
          type: 'dropped',
          message: settled.entry,
          error: new DeliveryError(
            'rejected',
            settled.entry.id,
            `holdfast: the server rejected message ${settled.entry.id}${why}`,
            { cause },
          ),
        });
      }
      if (inFlight !== context.outbox.inFlight)
        enqueue.assign({ outbox: { queue: context.outbox.queue, inFlight } });
      if (delivered.length > 0) enqueue.emit({ type: 'delivered', messages: delivered });
    }),
    requeueInFlight: enqueueActions(({ context, enqueue }) => {
      const change = requeueInFlight(context.outbox, context.options.maxDeliveryAttempts);
      if (change.outbox === context.outbox) return;
      enqueue.assign({ outbox: change.outbox });
      for (const drop of change.dropped) enqueue.emit({ type: 'dropped', ...drop });
    }),
    withdraw: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'abort');
      const { outbox, entry } = withdraw(context.outbox, event.id);
      if (entry === undefined) return;
      enqueue.assign({ outbox });
      enqueue.emit({
        type: 'dropped',
        message: entry,
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
      for (const message of entries) {
        const { id } = message;
        enqueue.emit({
          type: 'dropped',
          message,
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
      assertEvent(event, 'link.verdicts');
      const failure = event.verdicts.find(isLinkFailure);
      if (failure === undefined) return;
      const { outcome } = failure;
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
    reportConnectTimeout: emit(({ context }) =>
      timeout('opening the link', context.options.connectTimeoutMs),
    ),
    reportResumeTimeout: emit(({ context }) =>
      timeout('the resume handshake', context.options.resumeTimeoutMs),
    ),
    reportSilence: emit(({ context }) =>
      timeout('silence on the link', context.options.heartbeatTimeoutMs),
    ),
  },
});

/**
 * Actions on the link and its attempts: open one (closing the old one first, R5), let go
 * of it, resume and suspend over it, and count attempts for the backoff and `maxAttempts`
 * (R17).
 */
import { backoffDelay } from './backoff.js';
import { connectionBase } from './connection.base.js';
import { ConnectionError, DeliveryError } from './errors.js';
import { enqueueActions } from './parent.js';
import { emptyQueue, pushAll, toArray } from './queue.js';
import { type MachineEvent, positionList } from './types.js';

const { assign, stopChild } = connectionBase;

/** The longest `Retry-After` honoured: the default backoff's cap. */
export const RETRY_AFTER_HONOURED_MS = 30_000;

/** A `Retry-After` the server sent with what ended the link, in ms (capped); else 0. */
function retryAfterOf(event: MachineEvent): number {
  let ms: unknown;
  if (event.type === 'link.closed') ms = event.info.retryAfterMs;
  else if (event.type === 'link.resume-failed' || event.type === 'link.watch-failed') {
    // A refused resume may say when to come back, on its error (docs/protocol.md).
    try {
      ms = (event.error as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
    } catch {
      ms = undefined;
    }
  } else if (event.type === 'link.verdicts') {
    for (const { outcome } of event.verdicts)
      if (outcome.status === 'retry' && outcome.retryAfterMs !== undefined)
        ms = outcome.retryAfterMs;
  }
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0
    ? Math.min(Math.ceil(ms), RETRY_AFTER_HONOURED_MS)
    : 0;
}

export const linkActions = {
  openLink: enqueueActions(({ context, enqueue }) => {
    // The old link is closed before the new one opens (R5).
    enqueue.stopChild('link');
    enqueue.spawnChild('link', {
      id: 'link',
      input: { transport: context.options.transport, session: context.session },
    });
    enqueue.assign({ linkAttempts: context.linkAttempts + 1 });
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
  markLinkUsable: assign({ linkAttempts: 0 }),
  resetBackoff: assign({ backoffAttempt: 0, authRefused: false }),
  resetAttempts: assign({ backoffAttempt: 0, linkAttempts: 0 }),
  // The wait before the next attempt: the app's backoff, at least a `Retry-After` the
  // server sent (capped), and none after a first credentials refusal (R17).
  planBackoff: enqueueActions(({ context, event, enqueue }) => {
    const backoffAttempt = context.backoffAttempt + 1;
    const delay = backoffDelay(context.options.backoff, backoffAttempt);
    const authRefused = event.type === 'link.closed' && event.info.auth === true;
    enqueue.assign({
      backoffAttempt,
      backoffMs: authRefused ? 0 : Math.max(delay, retryAfterOf(event)),
      authRefused,
    });
  }),
  // A v2 welcome that says the server forgot the session while messages it may have
  // handled are still unconfirmed (they were on the wire on an earlier link): tell the
  // app, then resend them or reject them as `unconfirmed` (spec §4).
  checkSession: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'link.open' || event.session?.known !== false) return;
    const onWire = toArray(context.outbox.queue).filter((entry) => entry.attempts > 0);
    if (onWire.length === 0) return;
    const policy = context.options.onSessionLost;
    enqueue.emit({ type: 'error', error: ConnectionError.sessionLost(onWire.length, policy) });
    if (policy === 'resend') return;
    const kept = toArray(context.outbox.queue).filter((entry) => entry.attempts === 0);
    enqueue.assign({
      outbox: { queue: pushAll(emptyQueue(), kept), inFlight: context.outbox.inFlight },
    });
    for (const message of onWire)
      enqueue.emit({ type: 'dropped', message, error: DeliveryError.unconfirmed(message.id) });
  }),
  noteWelcome: assign({
    serverHeartbeatMs: ({ event }) => (event.type === 'link.open' ? event.heartbeatMs : 0),
  }),
};

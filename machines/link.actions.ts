/**
 * Actions on the link and its attempts: open one (closing the old one first, R5), let go
 * of it, resume and suspend over it, and count attempts for the backoff and `maxAttempts`
 * (R17).
 */
import { backoffDelay } from './backoff.js';
import { connectionBase } from './connection.base.js';
import { positionList } from './types.js';

const { assign, enqueueActions, stopChild } = connectionBase;

export const linkActions = {
  openLink: enqueueActions(({ context, enqueue }) => {
    // The old link is closed before the new one opens (R5).
    enqueue.stopChild('link');
    enqueue.spawnChild('link', { id: 'link', input: { transport: context.options.transport } });
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
  resetBackoff: assign({ backoffAttempt: 0 }),
  resetAttempts: assign({ backoffAttempt: 0, linkAttempts: 0 }),
  planBackoff: enqueueActions(({ context, enqueue }) => {
    const backoffAttempt = context.backoffAttempt + 1;
    enqueue.assign({
      backoffAttempt,
      backoffMs: backoffDelay(context.options.backoff, backoffAttempt),
    });
  }),
};

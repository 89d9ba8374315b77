/**
 * Actions that tell the app what went wrong with the connection (`error`), and the two
 * that also record why it closed (so what it drops says so). Every message is worded in
 * `errors.ts`.
 */
import { ConnectionError } from './errors.js';
import { guarded } from './guarded.js';
import { isLinkFailure } from './link-actor.js';
import { enqueueActions } from './parent.js';

export const reportActions = {
  reportLinkLost: enqueueActions(({ event, enqueue }) =>
    enqueue.emit({
      type: 'error',
      error: ConnectionError.linkClosed(event.type === 'link.closed' ? event.info : {}),
    }),
  ),
  // A link of a `delivery: 'written'` transport ended, whatever ended it: what was
  // written on it may never have arrived, and the app was only told it was written.
  reportUnconfirmedWrites: enqueueActions(({ context, enqueue }) => {
    if (context.written === 0) return;
    enqueue.assign({ written: 0 });
    enqueue.emit({ type: 'error', error: ConnectionError.unconfirmedWrites(context.written) });
  }),
  closeAsFatal: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'link.closed') return;
    const error = ConnectionError.linkClosed(event.info, context.authRefused);
    enqueue.assign({ closedBy: error });
    enqueue.emit({ type: 'error', error });
  }),
  closeAsExhausted: enqueueActions(({ context, enqueue }) => {
    const error = ConnectionError.retriesExhausted(
      context.linkAttempts,
      context.options.maxAttempts,
    );
    enqueue.assign({ closedBy: error });
    enqueue.emit({ type: 'error', error });
  }),
  reportSendFailure: enqueueActions(
    guarded(({ event, enqueue }) => {
      if (event.type !== 'link.verdicts') return;
      const failure = event.verdicts.find(isLinkFailure);
      if (failure === undefined) return;
      const { outcome } = failure;
      const error =
        outcome.status === 'stale'
          ? ConnectionError.stale(outcome.httpStatus)
          : ConnectionError.sendFailed(
              outcome.status === 'retry' ? outcome.error : undefined,
              outcome.status === 'retry' ? outcome.httpStatus : undefined,
            );
      enqueue.emit({ type: 'error', error });
    }),
  ),
  reportResumeFailed: enqueueActions(({ event, enqueue }) =>
    enqueue.emit({
      type: 'error',
      error: ConnectionError.resumeFailed(
        event.type === 'link.resume-failed' || event.type === 'link.watch-failed'
          ? event.error
          : undefined,
      ),
    }),
  ),
  reportConnectTimeout: enqueueActions(({ context, enqueue }) =>
    enqueue.emit({
      type: 'error',
      error: ConnectionError.timeout('connect', context.options.connectTimeoutMs),
    }),
  ),
  reportResumeTimeout: enqueueActions(({ context, enqueue }) =>
    enqueue.emit({
      type: 'error',
      error: ConnectionError.timeout('resume', context.options.resumeTimeoutMs),
    }),
  ),
  reportAckTimeout: enqueueActions(({ context, enqueue }) =>
    enqueue.emit({
      type: 'error',
      error: ConnectionError.timeout('ack', context.options.ackTimeoutMs),
    }),
  ),
  reportSilence: enqueueActions(({ context, enqueue }) =>
    enqueue.emit({
      type: 'error',
      error: ConnectionError.timeout('heartbeat', context.options.heartbeatTimeoutMs),
    }),
  ),
};

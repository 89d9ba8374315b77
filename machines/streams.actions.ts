/**
 * Actions on watched streams: watch and unwatch them, resume one on a link that is
 * already greeted (R20), and move positions by the frames that come in (R18). Every
 * change is O(1) on the persistent positions (`positions.ts`).
 */
import { ConnectionError } from './errors.js';
import { readFrame } from './frames.js';
import { guarded } from './guarded.js';
import { enqueueActions } from './parent.js';

export const streamActions = {
  watchStream: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'watch' || context.positions.has(event.stream)) return;
    enqueue.assign({
      positions: context.positions.watch(event.stream, event.seq ?? 0, event.epoch),
    });
    // No position given while a store opens: the store's, if it has one, wins (D3).
    const { store } = context;
    if (event.seq === undefined && store?.status === 'opening')
      enqueue.assign({
        store: {
          ...store,
          watchedUnpositioned: new Set(store.watchedUnpositioned).add(event.stream),
        },
      });
  }),
  resumeWatchedStream: enqueueActions(({ context, event, enqueue }) => {
    // Only a stream that was not watched yet; the link already resumed the others.
    if (event.type !== 'watch' || context.positions.has(event.stream)) return;
    enqueue.sendTo('link', {
      type: 'link.resume',
      positions: [
        event.epoch === undefined
          ? { stream: event.stream, seq: event.seq ?? 0 }
          : { stream: event.stream, seq: event.seq ?? 0, epoch: event.epoch },
      ],
      purpose: 'watch',
    });
  }),
  // A v2 `stream` frame: the log's epoch and head. Another epoch than the one the
  // position counts in, or a head behind it, means the log started over: the position
  // goes back to 0 in the new epoch and the app is told (spec §5).
  receiveStreamHead: enqueueActions(
    guarded(({ context, event, enqueue }) => {
      if (event.type !== 'link.stream') return;
      const { stream, epoch, head } = event.head;
      const seq = context.positions.get(stream);
      if (seq === undefined) return;
      const known = context.positions.epochOf(stream);
      const reset = (known !== undefined && known !== epoch) || seq > head;
      const positions = context.positions.inEpoch(stream, epoch, reset ? 0 : seq);
      if (positions !== context.positions) enqueue.assign({ positions });
      if (reset) enqueue.emit({ type: 'error', error: ConnectionError.reset(stream, seq, epoch) });
    }),
  ),
  unwatchOverLink: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'unwatch' || !context.positions.has(event.stream)) return;
    enqueue.sendTo('link', { type: 'link.unwatch', streams: [event.stream] });
  }),
  unwatchStream: enqueueActions(({ context, event, enqueue }) => {
    if (event.type !== 'unwatch' || !context.positions.has(event.stream)) return;
    // Remembered as unwatched: its frames still in flight no longer reach the app (R18).
    enqueue.assign({ positions: context.positions.unwatch(event.stream) });
  }),
  receiveFrame: enqueueActions(
    guarded(({ context, event, enqueue }) => {
      if (event.type !== 'link.frame') return;
      const verdict = readFrame(context.positions, event.frame);
      if (verdict.positions !== context.positions) enqueue.assign({ positions: verdict.positions });
      if (verdict.deliver)
        enqueue.emit({ type: 'message', data: event.frame.data, frame: event.frame });
      if (verdict.error) enqueue.emit({ type: 'error', error: verdict.error });
    }),
  ),
};

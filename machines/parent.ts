/**
 * Embedding (`notifyParent`): a machine that invokes or spawns the connection hears what
 * the connection tells its observers, as events of its own. `emit()` reaches only
 * `actor.on()` listeners, and a parent has none on an invoked child; so, with the
 * option, every emitted event is also sent to the parent, its type prefixed `holdfast.`,
 * and every entry of a top-level state is announced as `holdfast.state`.
 *
 * It is done once, here, for every action of the machine: the action files build their
 * actions with this `enqueueActions`, whose `enqueue.emit` also tells the parent.
 */

import type { InboundFrame } from '../adapters/transport.js';
import { connectionBase } from './connection.base.js';
import type { ConnectionEmitted } from './types.js';

type Enqueue = typeof connectionBase.enqueueActions;
type Collect = Parameters<Enqueue>[0];
type CollectArgs = Parameters<Collect>[0];

/** The six top-level states, as `holdfast.state` names them. */
export type TopLevelState =
  | 'connecting'
  | 'open'
  | 'reconnecting'
  | 'flushing'
  | 'suspended'
  | 'closed';

/**
 * What a parent receives with `notifyParent`: each emitted event, its type prefixed, and
 * each top-level state entered. `TReceive` types the data of `holdfast.message` (the
 * server's frames are untrusted: check them before trusting the type).
 */
export type ConnectionParentEvent<TReceive = unknown> =
  | {
      [K in Exclude<ConnectionEmitted['type'], 'message'>]: Omit<
        Extract<ConnectionEmitted, { type: K }>,
        'type'
      > & { type: `holdfast.${K}` };
    }[Exclude<ConnectionEmitted['type'], 'message'>]
  | { type: 'holdfast.message'; data: TReceive; frame: InboundFrame }
  | { type: 'holdfast.state'; state: TopLevelState };

/** The internal field XState keeps a child's parent in; absent on a root actor. */
function hasParent(self: unknown): boolean {
  return (self as { _parent?: unknown })._parent !== undefined;
}

function toParent(event: ConnectionEmitted): ConnectionParentEvent {
  return { ...event, type: `holdfast.${event.type}` } as ConnectionParentEvent;
}

function telling(args: CollectArgs): CollectArgs {
  const { enqueue } = args;
  const tellingEnqueue = Object.assign(
    (action: Parameters<typeof enqueue>[0]) => enqueue(action),
    enqueue,
    {
      emit: (event: ConnectionEmitted) => {
        enqueue.emit(event);
        enqueue.sendParent(toParent(event));
      },
    },
  );
  return { ...args, enqueue: tellingEnqueue as typeof enqueue };
}

/**
 * `enqueueActions` of the connection machine: as XState's, and with `notifyParent` on a
 * child actor, `enqueue.emit` tells the parent too. Without it the action runs as is:
 * nothing is allocated on the send path.
 */
export function enqueueActions(collect: Collect): ReturnType<Enqueue> {
  return connectionBase.enqueueActions((args, params) =>
    collect(
      args.context.options.notifyParent && hasParent(args.self) ? telling(args) : args,
      params,
    ),
  );
}

/** Entry of a top-level state: announced to the parent with `notifyParent`. */
function announce(state: TopLevelState) {
  return connectionBase.enqueueActions(({ context, self, enqueue }) => {
    if (context.options.notifyParent && hasParent(self))
      enqueue.sendParent({ type: 'holdfast.state', state });
  });
}

/** One entry action per top-level state: `holdfast.state` for a parent that asked. */
export const announceActions = {
  announceConnecting: announce('connecting'),
  announceReconnecting: announce('reconnecting'),
  announceFlushing: announce('flushing'),
  announceOpen: announce('open'),
  announceSuspended: announce('suspended'),
  announceClosed: announce('closed'),
};

/**
 * What an emitted event also does, once, here, for every action of the machine: the
 * action files build their actions with this `enqueueActions`, whose `enqueue.emit`
 *
 * - tells the parent (embedding, `notifyParent`): a machine that invokes or spawns the
 *   connection hears what the connection tells its observers, as events of its own.
 *   `emit()` reaches only `actor.on()` listeners, and a parent has none on an invoked
 *   child; so every emitted event is also sent to the parent, its type prefixed
 *   `holdfast.`, and every entry of a top-level state is announced as `holdfast.state`;
 * - removes every settled message from the store (durable.md D2, D7): whatever path
 *   delivers or drops a message — a verdict, an overflow, an abort, a lost session, a
 *   close — says so by emitting, so none can leave a settled message behind.
 */

import type { InboundFrame } from '../adapters/transport.js';
import { connectionBase } from './connection.base.js';
import { durableLogic } from './durable.js';
import type { ConnectionEmitted } from './types.js';

type Enqueue = typeof connectionBase.enqueueActions;
type Collect = Parameters<Enqueue>[0];
/** What an action of the machine is given: context, event, `enqueue`. */
export type CollectArgs = Parameters<Collect>[0];

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
 * `enqueueActions` of the connection machine: as XState's, and `enqueue.emit` also tells
 * a parent that asked (`notifyParent`) and removes settled messages from a store. With
 * neither, the action runs as is: nothing is allocated on the send path.
 */
export function enqueueActions(collect: Collect): ReturnType<Enqueue> {
  return connectionBase.enqueueActions((args, params) => {
    const parent = args.context.options.notifyParent && hasParent(args.self);
    const durable = durableLogic(args.context);
    const told = parent ? telling(args) : args;
    return collect(durable === undefined ? told : durable.removing(told), params);
  });
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

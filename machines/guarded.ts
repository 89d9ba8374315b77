/**
 * The last line of defence of the machine against what a peer sends: an action that
 * reads a link's input runs inside `guarded`, and an exception in it (a frame whose
 * field throws when read, a value no check foresaw) becomes a `protocol` close of that
 * link — reported, the link replaced — instead of an error that stops the actor for good.
 */
import type { LinkClose } from '../adapters/transport.js';

interface Raises {
  enqueue: { raise(event: { type: 'link.closed'; info: LinkClose }): void };
}

export function guarded<Args extends Raises>(action: (args: Args) => void): (args: Args) => void {
  return (args) => {
    try {
      action(args);
    } catch (error) {
      args.enqueue.raise({
        type: 'link.closed',
        info: { protocol: true, reason: 'the machine could not handle what the link sent', error },
      });
    }
  };
}

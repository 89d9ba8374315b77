import { fromCallback } from 'xstate';
import type {
  InboundFrame,
  Link,
  LinkClose,
  OutboundMessage,
  SendOutcome,
  StreamPosition,
  Transport,
} from './transport.js';

/** What the machine asks of its link. */
export type LinkCommand =
  | { type: 'link.send'; message: OutboundMessage }
  /** `handshake`: the resume every new link starts with; `watch`: one stream watched later. */
  | { type: 'link.resume'; positions: readonly StreamPosition[]; purpose: 'handshake' | 'watch' }
  | { type: 'link.suspend'; positions: readonly StreamPosition[] };

/** What the link tells the machine. */
export type LinkEvent =
  | { type: 'link.open' }
  | { type: 'link.frame'; frame: InboundFrame }
  | { type: 'link.alive' }
  | { type: 'link.closed'; info: LinkClose }
  | { type: 'link.resumed' }
  | { type: 'link.resume-failed'; error: unknown }
  | { type: 'link.watch-failed'; error: unknown }
  | { type: 'link.outcome'; id: string; outcome: SendOutcome };

export interface LinkActorInput {
  transport: Transport;
}

const STATUSES = new Set(['ok', 'stale', 'retry', 'rejected']);

function checkedOutcome(outcome: unknown): SendOutcome {
  const status = (outcome as { status?: unknown } | null)?.status;
  if (typeof status === 'string' && STATUSES.has(status)) return outcome as SendOutcome;
  return {
    status: 'retry',
    error: new TypeError(
      `holdfast: link.send() must resolve with { status: 'ok' | 'stale' | 'retry' | 'rejected' }, got ${JSON.stringify(outcome)}`,
    ),
  };
}

/**
 * One link as a child actor of the connection machine.
 *
 * This is where rule R5 is made true by construction. The machine stops this actor when
 * it lets go of the link, and XState drops whatever a stopped actor sends back, so a
 * replaced link's late open, frame, close, outcome or resume reply reaches nothing. Two
 * holes are closed here: `link.close()` runs while the actor is being stopped (so events
 * it fires are dropped by `stopped`), and a link that reports synchronously from inside
 * one of our calls has its events delivered after that call, in order, so they never
 * sit in the machine's mailbox behind the step that replaces the link.
 */
export const linkActor = fromCallback<LinkCommand, LinkActorInput, LinkEvent>(
  ({ input, sendBack, receive }) => {
    let stopped = false;
    let calling = 0;
    const pending: LinkEvent[] = [];

    const drain = () => {
      while (!stopped && pending.length > 0) sendBack(pending.shift() as LinkEvent);
      pending.length = 0;
    };
    const deliver = (event: LinkEvent) => {
      if (stopped) return;
      if (calling > 0 || pending.length > 0) {
        pending.push(event);
        if (pending.length === 1) queueMicrotask(drain);
        return;
      }
      sendBack(event);
    };
    const call = <T>(fn: () => T): T => {
      calling++;
      try {
        return fn();
      } finally {
        calling--;
      }
    };

    let link: Link | undefined;
    try {
      link = call(() =>
        input.transport.connect({
          open: () => deliver({ type: 'link.open' }),
          message: (frame) => deliver({ type: 'link.frame', frame }),
          alive: () => deliver({ type: 'link.alive' }),
          close: (info) => deliver({ type: 'link.closed', info: info ?? {} }),
        }),
      );
    } catch (error) {
      deliver({ type: 'link.closed', info: { error, reason: 'transport.connect() threw' } });
    }

    receive((command) => {
      const current = link;
      if (current === undefined) return;
      switch (command.type) {
        case 'link.send': {
          const { id } = command.message;
          let sent: Promise<SendOutcome>;
          try {
            sent = call(() => current.send(command.message));
          } catch (error) {
            sent = Promise.resolve({ status: 'retry', error });
          }
          Promise.resolve(sent).then(
            (outcome) => deliver({ type: 'link.outcome', id, outcome: checkedOutcome(outcome) }),
            (error: unknown) =>
              deliver({ type: 'link.outcome', id, outcome: { status: 'retry', error } }),
          );
          return;
        }
        case 'link.resume': {
          const { purpose } = command;
          let resumed: Promise<void>;
          try {
            resumed = call(() => current.resume(command.positions));
          } catch (error) {
            resumed = Promise.reject(error);
          }
          Promise.resolve(resumed).then(
            () => {
              if (purpose === 'handshake') deliver({ type: 'link.resumed' });
            },
            (error: unknown) =>
              deliver(
                purpose === 'handshake'
                  ? { type: 'link.resume-failed', error }
                  : { type: 'link.watch-failed', error },
              ),
          );
          return;
        }
        case 'link.suspend':
          try {
            call(() => current.suspend?.(command.positions));
          } catch {
            // Fire-and-forget by contract: a notice that cannot be sent is not retried.
          }
          return;
      }
    });

    return () => {
      stopped = true;
      pending.length = 0;
      try {
        link?.close();
      } catch {
        // The link is being let go; a close that throws cannot change that.
      }
    };
  },
);
